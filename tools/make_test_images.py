"""Write the small BSData ball-screw subset the tests use (``tests/data/ball_screw``) from the full set.

Not a test. Reads the MVTec-style BSData layout in ``../shared/data`` (only this project's machines have it),
takes the first images of each split in name order, halves them (1130x460 -> 565x230, area interpolation) and
writes them as JPEG (quality 80); masks are halved alike and thresholded back to 0/255 PNG. Run from the
repository root::

    python tools/make_test_images.py [--source DIR] [--out tests/data/ball_screw]

The images are CC BY-SA 4.0 (BSData, Schlagenhauf & Landwehr, KIT 2021): ``tests/data/SOURCE.md`` keeps the
notice.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "data" / "ball_screw_bsdata" / "ball_screw"
COUNTS = {"train/good": 20, "test/good": 12, "test/pitting": 4}  # images per split (the tests' needs)
SCALE = 0.5  # linear down-scale factor
QUALITY = 80  # JPEG quality of the written images


def halve(image, interpolation=cv2.INTER_AREA):
    """The image scaled by :data:`SCALE`."""
    return cv2.resize(image, None, fx=SCALE, fy=SCALE, interpolation=interpolation)


def write_split(source: Path, out: Path, split: str, count: int) -> int:
    """Write the first ``count`` images of ``split`` (and their masks); returns the bytes written."""
    written = 0
    (out / split).mkdir(parents=True, exist_ok=True)
    for path in sorted((source / split).glob("*.jpg"))[:count]:
        target = out / split / path.name
        cv2.imwrite(str(target), halve(cv2.imread(str(path))), [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        written += target.stat().st_size
        kind = split.split("/")[1]
        if kind != "good":
            mask_path = source / "ground_truth" / kind / f"{path.stem}_mask.png"
            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
            (out / "ground_truth" / kind).mkdir(parents=True, exist_ok=True)
            target = out / "ground_truth" / kind / f"{path.stem}_mask.png"
            cv2.imwrite(str(target), ((halve(mask) >= 128) * 255).astype("uint8"))
            written += target.stat().st_size
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="the full BSData ball_screw folder")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "ball_screw")
    args = parser.parse_args()
    if not (args.source / "train" / "good").is_dir():
        raise SystemExit(f"{args.source}: not a BSData ball_screw folder (no train/good); give --source")
    total = sum(write_split(args.source, args.out, split, n) for split, n in COUNTS.items())
    print(f"wrote {sum(COUNTS.values())} images to {args.out}: {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
