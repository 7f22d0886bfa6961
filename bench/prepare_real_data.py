"""Lay out the public real datasets used by ``bench/real_data.py`` as MVTec-style categories (never committed).

Each source is a git snapshot of a public repository (brought with the search tool's ``fetch``); files are read
from a fixed commit with ``git show`` and written to ``OUT/<name>/``. What each dataset is, its licence and how it
was split are in docs/benchmarks.md §8 (and in ``OUT/<name>/SOURCE.md``, written here).

    python bench/prepare_real_data.py --mirrors /work/.mirror --out /work/data

Datasets (licences: docs/benchmarks.md §8):
- ``tire``: MVTec 3D-AD ``tire``, RGB only (CC BY-NC-SA 4.0). train/good 210, validation/good 29 (calibration pool),
  test good 25, contamination 28, cut 27, hole 27, combined 5, masks from ``gt``.
- ``juice_bottle``: MVTec LOCO AD ``juice_bottle`` as far as the snapshot has it (CC BY-NC-SA 4.0): train/good 335,
  the 142 logical anomalies (binary masks in the snapshot, so one type); ``validation/good`` (54, never
  trained on) serves as test/good because the snapshot has no test/good.
- ``aitex``: AITEX fabric images (4096x256) without masks: 141 defect-free strips of 7 fabrics, 106 defective;
  100 good for training (fixed seed), the other 41 good and the defects (by defect code) for testing.
- ``metal_plate``: MPDD ``metal_plate`` (CC BY-NC-SA 4.0), from a snapshot that re-split it for supervised
  segmentation at 512x512 (defect kinds lost; stale duplicate files): the 151 distinct images are told apart by
  their masks, 80 good and 71 defective; 54 good for training (fixed seed, MPDD's own count), 26 good and the 71
  defective (one kind, masks) for testing.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import subprocess
from pathlib import Path

import cv2
import numpy as np

TIRE = ("yagamieren09+Automated-Defect-Detection-System-using-AI-vision",
        "bd3a0214078903388351d4292c82a09ad8800fbf", "dataset/mvtec_3d/tire")  # fmt: skip
LOCO = ("jasonjin34+logicAD", "df2b4bb0ca1f8dc0909e0c55d03a996f70265cf0", "datasets/juice_bottle")
AITEX = ("mhzobaer26+TextileAI_Dataset", "HEAD", "")
MPDD = ("BupeshKumarR+defect-segmentation-for-mpdd", "5d8b9cddfa7af2f145bafaaf6eca53294f5aa7b0",
        "data_supervised/metal_plate")  # fmt: skip


class Snapshot:
    """Files of one commit of a fetched repository."""

    def __init__(self, mirrors: Path, spec: tuple[str, str, str]) -> None:
        self.git, self.commit, self.base = mirrors / spec[0] / "repo", spec[1], spec[2]

    def names(self, under: str) -> list[str]:
        path = f"{self.base}/{under}".strip("/")
        out = subprocess.run(["git", "-C", str(self.git), "ls-tree", "-r", "--name-only", self.commit, path + "/"],
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        return sorted(line for line in out.splitlines() if line)

    def read(self, name: str) -> bytes:
        return subprocess.run(["git", "-C", str(self.git), "show", f"{self.commit}:{name}"], check=True,
                              capture_output=True).stdout  # fmt: skip


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def prepare_tire(snap: Snapshot, out: Path) -> None:
    for split in ("train/good", "validation/good", "test/good"):
        for name in snap.names(f"{split}/rgb"):
            _write(out / split / Path(name).name, snap.read(name))
    for kind in ("combined", "contamination", "cut", "hole"):
        for name in snap.names(f"test/{kind}/rgb"):
            stem = Path(name).stem
            _write(out / "test" / kind / f"{stem}.png", snap.read(name))
            _write(out / "ground_truth" / kind / f"{stem}_mask.png", snap.read(name.replace("/rgb/", "/gt/")))


def prepare_loco(snap: Snapshot, out: Path) -> None:
    for name in snap.names("train/good"):
        _write(out / "train/good" / Path(name).name, snap.read(name))
    for name in snap.names("validation/good"):
        _write(out / "test/good" / Path(name).name, snap.read(name))
    for name in snap.names("test/logical_anomalies"):
        stem = Path(name).stem
        gt = cv2.imdecode(np.frombuffer(snap.read(f"{snap.base}/ground_truth/logical_anomalies/{stem}.png"),
                                        np.uint8), cv2.IMREAD_GRAYSCALE)  # fmt: skip
        kind = "logical_anomalies"  # the snapshot's masks are binary: the defect kinds cannot be told apart
        _write(out / "test" / kind / f"{stem}.png", snap.read(name))
        _write(out / "ground_truth" / kind / f"{stem}_mask.png", cv2.imencode(".png", ((gt > 0) * 255).astype(np.uint8))[1].tobytes())


def prepare_aitex(snap: Snapshot, out: Path) -> None:
    good = snap.names("no_defect")
    random.Random(15).shuffle(good)
    for i, name in enumerate(good):
        split = "train/good" if i < 100 else "test/good"
        _write(out / split / f"{Path(name).parent.name}_{Path(name).name}", snap.read(name))
    for name in snap.names("defect"):
        code = Path(name).stem.split("_")[1]
        _write(out / "test" / f"defect_{code}" / Path(name).name, snap.read(name))


def prepare_mpdd(snap: Snapshot, out: Path) -> None:
    good, bad, seen = [], [], set()
    for split in ("train", "val", "test"):
        for name in snap.names(f"{split}/images"):
            data = snap.read(name)
            pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            key = hashlib.sha1(pixels.tobytes()).hexdigest()
            if key in seen:  # the snapshot keeps stale copies from an earlier split
                continue
            seen.add(key)
            mask = snap.read(name.replace("/images/", "/masks/"))
            has_defect = bool((cv2.imdecode(np.frombuffer(mask, np.uint8), cv2.IMREAD_GRAYSCALE) > 0).any())
            (bad if has_defect else good).append((key[:12], data, mask))
    random.Random(15).shuffle(good)
    for i, (key, data, _) in enumerate(good):
        _write(out / ("train/good" if i < 54 else "test/good") / f"{key}.png", data)
    for key, data, mask in bad:
        _write(out / "test/defect" / f"{key}.png", data)
        _write(out / "ground_truth/defect" / f"{key}_mask.png", mask)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--out", type=Path, default=Path("/work/data"))
    args = ap.parse_args()
    for name, spec, fn in (("tire", TIRE, prepare_tire), ("juice_bottle", LOCO, prepare_loco),
                           ("aitex", AITEX, prepare_aitex), ("metal_plate", MPDD, prepare_mpdd)):  # fmt: skip
        target = args.out / name
        if target.exists():
            print(f"{target} exists, skipped")
            continue
        fn(Snapshot(args.mirrors, spec), target)
        (target / "SOURCE.md").write_text(f"Laid out by bench/prepare_real_data.py from {spec[0]} at {spec[1]}.\n")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
