"""Write an MVTec-style dataset from the demo line, for training and evaluating a model without a camera.

Layout: ``train/good/*.png``, ``test/good/*.png``, ``test/<kind>/*.png`` and
``ground_truth/<kind>/<stem>_mask.png`` (0/255), plus ``demo_data.json`` recording how it was made.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.sources.demo_line import DemoLineConfig
from app.sources.demo_render import PartRenderer
from app.sources.demo_textures import load_textures
from draem_core.errors import DatasetError
from draem_core.imageio import list_images, write_bytes_atomic, write_image_atomic

LAYOUT_FOLDERS = ("train", "test", "ground_truth")  # the folders the writer owns inside the output folder
STREAM_TRAIN, STREAM_TEST_GOOD, STREAM_TEST_DEFECTIVE = 0, 1, 2  # independent random streams per split


@dataclass(frozen=True)
class DemoDatasetPlan:
    """What to write."""

    out: Path  # output folder
    good: int  # good test images
    defective: int  # defective test images, spread evenly over the kinds
    train_good: int  # good training images
    line: DemoLineConfig  # image size, seed, kinds and textures (fps and defect_rate are unused)
    force: bool = False  # write into a non-empty folder, replacing the images of an earlier dataset


def write_demo_dataset(plan: DemoDatasetPlan, progress: Callable[[int, int], None] | None = None) -> Counter:
    """Render and write the dataset; returns the number of images per folder (``"test/scratch"`` ...).

    Raises:
        DatasetError: the output folder is a file, or is not empty and ``force`` is off.
    """
    _prepare_folder(plan.out, plan.force)
    line = plan.line
    renderer = PartRenderer(
        line.width, line.height, textures=load_textures(line.texture_dir), variation=line.variation
    )
    jobs = _jobs(plan)
    counts: Counter = Counter()
    for done, (folder, stem, stream, index, kind) in enumerate(jobs, start=1):
        rng = np.random.default_rng([line.seed, stream, index])
        image, mask = renderer.render_part(rng, kind)
        write_image_atomic(plan.out / folder / f"{stem}.png", image)
        if kind is not None:
            write_image_atomic(plan.out / "ground_truth" / kind / f"{stem}_mask.png", mask)
        counts[folder] += 1
        if progress is not None:
            progress(done, len(jobs))
    _write_info(plan, counts)
    return counts


def _jobs(plan: DemoDatasetPlan) -> list[tuple[str, str, int, int, str | None]]:
    """``(folder, stem, stream, index, kind)`` of every image, numbered from 000 within each folder."""
    jobs = [("train/good", _stem(i, plan.train_good), STREAM_TRAIN, i, None) for i in range(plan.train_good)]
    jobs += [("test/good", _stem(i, plan.good), STREAM_TEST_GOOD, i, None) for i in range(plan.good)]
    kinds = plan.line.kinds
    per_kind: Counter = Counter(kinds[i % len(kinds)] for i in range(plan.defective))
    seen: Counter = Counter()
    for i in range(plan.defective):
        kind = kinds[i % len(kinds)]
        jobs.append((f"test/{kind}", _stem(seen[kind], per_kind[kind]), STREAM_TEST_DEFECTIVE, i, kind))
        seen[kind] += 1
    return jobs


def _stem(i: int, n: int) -> str:
    return f"{i:0{max(3, len(str(n - 1)))}d}"


def _prepare_folder(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DatasetError(out, "output path exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise DatasetError(out, "output folder is not empty; pass --force to replace the dataset in it")
        for folder in LAYOUT_FOLDERS:  # only images the writer would own: never unrelated files
            for path in list_images(out / folder):
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_info(plan: DemoDatasetPlan, counts: Counter) -> None:
    line = plan.line
    info = {
        "generator": "draem-inspect demo line (turned aluminium flange on a conveyor)",
        "seed": line.seed,
        "width": line.width,
        "height": line.height,
        "kinds": list(line.kinds),
        "counts": dict(sorted(counts.items())),
    }
    write_bytes_atomic(plan.out / "demo_data.json", (json.dumps(info, indent=2) + "\n").encode())
