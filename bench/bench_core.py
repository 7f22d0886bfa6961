"""Inference and training speed of the model library; prints JSON (one record per configuration).

    python bench/bench_core.py --presets tiny cpu compact --size 256 --batches 1 8 --train-steps 5

Each configuration runs in a fresh subprocess so that its peak memory (RSS, or CUDA max allocated) is its own.
Inference is timed through ``Inspector.predict_tensor`` (resize + network + map + score), the path the app uses.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_one(kind: str, preset_name: str, size: tuple[int, int], batch: int, device: str, steps: int) -> dict:
    import torch

    from draem_core.config import TrainConfig, preset
    from draem_core.device import describe, resolve_device
    from draem_core.inspector import Inspector
    from draem_core.model import DraemModel
    from draem_core.modelfile import ModelMetadata

    dev = resolve_device(device)
    cfg = preset(preset_name, size)
    rec = {"kind": kind, "preset": preset_name, "size": list(size), "batch": batch, "device": describe(dev),
           "torch_threads": torch.get_num_threads()}  # fmt: skip
    if kind == "infer":
        insp = Inspector(DraemModel(cfg), ModelMetadata(model=cfg), dev)
        frames = torch.randint(0, 256, (batch, 3, *size), dtype=torch.uint8, device=dev)
        insp.predict_tensor(frames)  # warm-up (allocations, cuDNN autotune)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < 5.0 or n < 3:
            insp.predict_tensor(frames)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            n += 1
        dt = (time.perf_counter() - t0) / n
        rec.update(ms_per_batch=round(dt * 1e3, 2), ms_per_frame=round(dt * 1e3 / batch, 2),
                   frames_per_s=round(batch / dt, 2), precision="bf16" if dev.type == "cuda" else "fp32")  # fmt: skip
    else:
        from draem_core.train import TrainPlan, train

        data = Path(__file__).resolve().parent.parent.parent / "shared/data/ball_screw_bsdata/ball_screw"
        out = Path("/tmp/bench_train/model.safetensors")
        tcfg = TrainConfig(steps=steps + 2, batch_size=batch, device=device, checkpoint_every=0)
        rates = [e.images_per_s for e in train(TrainPlan(data, out, cfg, tcfg)) if e.kind == "step"]
        rec.update(train_images_per_s=round(rates[-1], 2), steps=len(rates))
    rec["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if dev.type == "cuda":
        rec["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["tiny", "cpu", "compact"])
    ap.add_argument("--size", default="256", help="N or HxW")
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--train-steps", type=int, default=5, help="0 skips training")
    ap.add_argument("--one", nargs=4, metavar=("KIND", "PRESET", "BATCH", "STEPS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x")) if "x" in args.size else (int(args.size),) * 2
    if args.one:
        kind, name, batch, steps = args.one
        print(json.dumps(run_one(kind, name, size, int(batch), args.device, int(steps))))
        return
    jobs = [("infer", p, b, 0) for p in args.presets for b in args.batches]
    if args.train_steps:
        jobs += [("train", p, 8, args.train_steps) for p in args.presets]
    records = []
    for kind, name, batch, steps in jobs:
        cmd = [sys.executable, __file__, "--size", args.size, "--device", args.device,
               "--one", kind, name, str(batch), str(steps)]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        records.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(records[-1]), file=sys.stderr)
    print(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
