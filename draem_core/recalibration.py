"""Re-calibrating a trained model's threshold on more good images, without training again.

Training calibrates on its held-out share (often 20-50 images), where the threshold needs a tail margin that is
wide. With a few hundred fresh good images (not the training images) the false-reject quantile is measured
directly and the margin shrinks to nothing (see :mod:`draem_core.calibration`). The weights are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from draem_core.calibration import Calibration, calibrate
from draem_core.dataset import good_images
from draem_core.device import resolve_device
from draem_core.errors import DatasetError, ImageReadError
from draem_core.imageio import read_image
from draem_core.inspector import Inspector
from draem_core.modelfile import load_model, now_iso, read_file, save_model
from draem_core.processing import frames_to_uint8
from draem_core.region import RegionError
from draem_core.training_data import fingerprint
from draem_core.version import MODEL_FORMAT


def score_good(
    inspector: Inspector, paths: list[Path], progress: Callable[[int, int], None] | None = None
) -> tuple[np.ndarray, list[Path], list[tuple[str, str]]]:
    """Raw scores of good images (their model region); unreadable ones come back as ``(path, reason)``."""
    scores, kept, skipped = [], [], []
    for i, p in enumerate(paths):
        try:
            frame = inspector.region(read_image(p))
        except ImageReadError as exc:
            skipped.append((str(p), exc.reason))
            continue
        except RegionError as exc:
            skipped.append((str(p), str(exc)))
            continue
        _, s = inspector.predict_tensor(torch.stack(frames_to_uint8([frame], inspector.device)))
        scores.append(float(s[0]))
        kept.append(p)
        if progress:
            progress(i + 1, len(paths))
    return np.asarray(scores, np.float64), kept, skipped


def recalibrate(
    model_path: str | Path, good: str | Path, out: str | Path, target_frr: float = 0.005, device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Calibration, Calibration | None, list[tuple[str, str]]]:  # fmt: skip
    """Score the good images in ``good`` (a folder, or an MVTec category's train/good) with the model and write
    it to ``out`` (atomically; may be ``model_path`` itself) with a threshold calibrated on them.

    Returns:
        ``(new, previous, skipped)``: the new calibration, the one the file had, unreadable images.

    Raises:
        DatasetError: the folder is missing or empty, or none of its images can be scored.
        ModelFileError: the model file is missing or broken.
    """
    paths = good_images(good)
    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    inspector = Inspector(model, meta, dev)
    scores, kept, skipped = score_good(inspector, paths, progress)
    if not kept:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3])
        raise DatasetError(good, f"none of the {len(paths)} images could be scored ({reasons})")
    new = calibrate(scores, target_frr=target_frr)
    previous = inspector.calibration
    record = {"on": str(good), "n_good": len(kept), "skipped": skipped, "time": now_iso(),
              "images_fingerprint": fingerprint(kept),
              "previous_threshold": previous.threshold if previous else None}  # fmt: skip
    training = {**meta.training, "recalibrated": record}
    half = any(t.dtype == torch.float16 for t in read_file(model_path, MODEL_FORMAT)[0].values())
    save_model(out, inspector.model.cpu(), replace(meta, calibration=new.to_dict(), training=training), half=half)
    return new, previous, skipped
