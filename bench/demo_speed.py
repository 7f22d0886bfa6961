"""Speed of the bundled demo model on demo-line frames; prints JSON.

    python bench/demo_speed.py --frames 60 --seconds 30 [--backend auto --calibration GOOD_DIR]

1. ``Inspector.inspect`` of pre-rendered 640x480 demo frames, one at a time (what the live worker calls), with
   the time split into: align to the reference part (aligned models) + crop to the model's region + upload,
   resize + network + map + score (``predict_tensor``), and the map back to region size.
2. The live path: the demo line source (rendering its frames at its own rate) through the app's
   :class:`~app.pipeline.pipeline.InspectionPipeline` for ``--seconds``: inspected frames per second, latency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's entry point does
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _ms(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50": round(statistics.median(values) * 1e3, 1),
            "p95": round(values[int(0.95 * (len(values) - 1))] * 1e3, 1)}  # fmt: skip


def inspect_alone(inspector, frames: list) -> dict:
    import torch

    from draem_core.processing import frames_to_uint8, maps_to_size

    for f in frames[:3]:  # warm-up
        inspector.inspect(f)
    total, prep, net, back = [], [], [], []
    for f in frames:
        t0 = time.perf_counter()
        inspector.inspect(f)
        total.append(time.perf_counter() - t0)
    with torch.inference_mode():
        for f in frames:
            t0 = time.perf_counter()
            x = torch.stack(frames_to_uint8([inspector.region(f)], inspector.device))
            t1 = time.perf_counter()
            maps, _ = inspector.predict_tensor(x)
            t2 = time.perf_counter()
            maps_to_size(maps, x.shape[-2:]).float().cpu().numpy()
            t3 = time.perf_counter()
            prep.append(t1 - t0)
            net.append(t2 - t1)
            back.append(t3 - t2)
    return {"frames": len(frames), "inspect_ms": _ms(total),
            "frames_per_s": round(1.0 / statistics.median(total), 2),
            "align_crop_upload_ms": _ms(prep), "predict_tensor_ms": _ms(net), "map_to_frame_ms": _ms(back)}  # fmt: skip


def live_path(inspector, seconds: float) -> dict:
    from app.pipeline.pipeline import InspectionPipeline
    from app.sources.factory import open_source

    source = open_source("demo")
    source.open()
    source.start()
    errors: list[str] = []
    pipeline = InspectionPipeline(source, inspector, on_error=lambda *a: errors.append(" ".join(map(str, a))))
    pipeline.start()
    try:
        time.sleep(3.0)  # warm-up: renderer built, first frames through
        start = pipeline.stats().inspected
        t0 = time.monotonic()
        time.sleep(seconds)
        stats = pipeline.stats()
        elapsed = time.monotonic() - t0
    finally:
        pipeline.stop()
        source.stop()
        source.close()
    return {"seconds": round(elapsed, 1), "inspected_per_s": round((stats.inspected - start) / elapsed, 2),
            "latency_p50_ms": round(stats.latency_p50_ms, 1), "inference_ms": round(stats.inference_ms, 1),
            "dropped": stats.dropped, "errors": errors[:3]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="model file (default: the bundled demo model)")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--seconds", type=float, default=30.0, help="live-path duration; 0 skips it")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="torch", help="torch | onnxruntime | openvino | auto (optionally NAME:int8)")
    ap.add_argument("--calibration", type=Path, help="good images: int8 calibration, bf16/int8 validation")
    args = ap.parse_args()

    import torch

    from app.cli.backend_args import backend_options
    from app.paths import bundled_model
    from app.sources.demo_line import DemoLine, DemoLineConfig
    from draem_core.inspector import Inspector

    path = args.model or bundled_model()
    args.precision = None
    inspector = Inspector.from_file(path, args.device, args.backend, backend_options(args))
    line = DemoLine(DemoLineConfig(seed=5, defect_rate=0.3))
    frames = [line.render(i)[0].image for i in range(args.frames)]
    meta = inspector.meta
    out = {"model": str(path), "preset": meta.model.preset,
           "model_input": [meta.model.image_height, meta.model.image_width], "roi": meta.roi,
           "frame": list(frames[0].shape), "device": str(inspector.device), "torch_threads": torch.get_num_threads(),
           "backend": str(inspector.backend.spec),
           "cpus": os.cpu_count(), "inspect": inspect_alone(inspector, frames)}  # fmt: skip
    if args.seconds > 0:
        out["live"] = live_path(inspector, args.seconds)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
