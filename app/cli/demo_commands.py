"""`draem-inspect demo-data`: write a synthetic MVTec-style dataset from the demo production line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.sources.demo_dataset import DemoDatasetPlan, write_demo_dataset
from app.sources.demo_defects import DEFECT_KINDS
from app.sources.demo_line import MIN_SIDE, DemoLineConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo-data`` command."""
    p = subparsers.add_parser(
        "demo-data",
        help="write a synthetic MVTec-style dataset from the demo line",
        description=(
            "Render turned aluminium flanges on a conveyor, good and defective, into DIR/train/good, "
            "DIR/test/<good|kind> and DIR/ground_truth/<kind>/<stem>_mask.png (0/255)."
        ),
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder (must be empty)")
    p.add_argument("--good", required=True, type=_count, metavar="N", help="good test images")
    p.add_argument("--defective", required=True, type=_count, metavar="N", help="defective test images")
    p.add_argument("--train-good", type=_count, metavar="N", help="good training images (default: --good)")
    p.add_argument("--seed", type=_count, default=0, help="random seed (default 0): same seed, same images")
    p.add_argument("--width", type=_side, default=640, help="image width (default 640)")
    p.add_argument("--height", type=_side, default=480, help="image height (default 480)")
    p.add_argument(
        "--kinds",
        type=_kinds,
        default=DEFECT_KINDS,
        help=f"comma-separated defect kinds (default: all of {','.join(DEFECT_KINDS)})",
    )
    p.add_argument("--textures", type=Path, metavar="DIR", help="texture folder (default: bundled CC0 set)")
    p.add_argument(
        "--force", action="store_true", help="write into a non-empty folder, replacing its dataset"
    )
    p.set_defaults(func=run_demo_data)


def run_demo_data(args: argparse.Namespace) -> int:
    """Write the dataset and print how many images went where."""
    line = DemoLineConfig(
        width=args.width, height=args.height, seed=args.seed, kinds=args.kinds, texture_dir=args.textures
    )
    train_good = args.good if args.train_good is None else args.train_good
    plan = DemoDatasetPlan(args.out, args.good, args.defective, train_good, line, force=args.force)
    counts = write_demo_dataset(plan, progress=_progress if sys.stderr.isatty() else None)
    total = sum(counts.values())
    masks = sum(n for folder, n in counts.items() if folder.startswith("test/") and folder != "test/good")
    print(f"wrote {total} images and {masks} masks to {args.out}")
    for folder, n in sorted(counts.items()):
        print(f"  {folder}: {n}")
    return 0


def _progress(done: int, total: int) -> None:
    end = "\n" if done == total else ""
    print(f"\r  rendering {done}/{total}", end=end, file=sys.stderr, flush=True)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"expected a whole number 0 or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _side(text: str) -> int:
    value = _count(text)
    if value < MIN_SIDE:
        msg = f"image side must be at least {MIN_SIDE} pixels, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in DEFECT_KINDS]
    if unknown or not kinds:
        msg = f"unknown defect kind(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(DEFECT_KINDS)}"
        raise argparse.ArgumentTypeError(msg)
    return kinds
