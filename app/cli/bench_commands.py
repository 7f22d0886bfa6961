"""`draem-inspect bench`: frames per second of a model through the real Inspector path, as JSON.

The JSON keys ``backend``, ``fps``, ``ms_p50`` and ``ms_p95`` are a contract (scripts and the benchmarks read
them); more keys may be added, none renamed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from app.cli.backend_args import add_backend_arguments, describe_backend, open_inspector

DEMO_SEED, DEMO_DEFECT_RATE = 5, 0.3  # the demo line bench/demo_speed.py inspects too
WARMUP = 3  # inspections before timing (first calls allocate and tune)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="inspect demo frames (or --images) and print frames/s and latency")
    p.add_argument("--model", type=Path, help="model file (default: the bundled demo model)")
    p.add_argument("--frames", type=_positive, default=60, help="frames timed (default 60)")
    p.add_argument("--images", type=Path, metavar="DIR", help="inspect these images instead of demo-line frames")
    p.add_argument("--device", default="cpu", help="cpu (default) | auto | cuda")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_bench)


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return n


def bench_frames(images: Path | None, n: int) -> tuple[list, str]:
    """``n`` frames (cycling when the folder has fewer) and a description of where they came from.

    Raises:
        DatasetError: the folder is missing or has no readable image.
    """
    from draem_core.errors import DatasetError

    if images is None:
        from app.sources.demo_line import DemoLine, DemoLineConfig

        line = DemoLine(DemoLineConfig(seed=DEMO_SEED, defect_rate=DEMO_DEFECT_RATE))
        frames = [line.render(i)[0].image for i in range(n)]
        return frames, f"demo line (seed {DEMO_SEED}, {DEMO_DEFECT_RATE:.0%} defective)"
    from draem_core.imageio import list_images, read_images

    if not images.is_dir():
        raise DatasetError(images, "folder does not exist")
    frames, _ = read_images(list_images(images)[:n])
    if not frames:
        raise DatasetError(images, "no readable images")
    return [frames[i % len(frames)] for i in range(n)], str(images)


def measure(inspector, frames: list) -> dict:
    """Inspect every frame once (after a warm-up) and summarise the per-frame times."""
    for frame in frames[:WARMUP]:
        inspector.inspect(frame)
    times = []
    start = time.perf_counter()
    for frame in frames:
        t0 = time.perf_counter()
        inspector.inspect(frame)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    ordered = sorted(times)
    return {"fps": round(len(frames) / total, 2), "ms_p50": round(statistics.median(ordered) * 1e3, 1),
            "ms_p95": round(ordered[round(0.95 * (len(ordered) - 1))] * 1e3, 1), "frames": len(frames)}  # fmt: skip


def cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from app.paths import bundled_model

    args.model = args.model or bundled_model()
    frames, source = bench_frames(args.images, args.frames)
    t0 = time.perf_counter()
    inspector = open_inspector(args)
    open_s = time.perf_counter() - t0
    result = {"backend": inspector.backend.spec.name, "precision": inspector.backend.spec.precision,
              **measure(inspector, frames), "requested": args.backend, "source": source, "model": str(args.model),
              "device": str(inspector.device), "threads": torch.get_num_threads(), "frame": list(frames[0].shape),
              "open_s": round(open_s, 2), **inspector.backend.info}  # fmt: skip
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{describe_backend(inspector)}: {result['fps']} frames/s, {result['ms_p50']} ms median, "
              f"{result['ms_p95']} ms 95th pct. over {result['frames']} frames of the {source}")  # fmt: skip
    sys.stdout.flush()
    return 0
