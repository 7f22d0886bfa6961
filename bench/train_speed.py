"""CPU training speed, NCHW against channels_last (TrainConfig.channels_last), interleaved; prints JSON.

    python bench/train_speed.py DATA --preset cpu --size 256 --steps 6 --rounds 3

Each round trains ``--steps`` steps (batch 8, the real ``draem_core.train.train`` loop: synthesis, forward,
loss, backward, Adam) once per layout, alternating, so load from other jobs falls on both alike. images/s is
batch x steps over the time of the steps (loading, checkpoint and calibration excluded); the anomaly synthesis
share is timed separately on the same batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's entry point does
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def one_run(data: Path, preset_name: str, size: int, steps: int, channels_last: bool, out: Path) -> tuple[float, float]:
    """images/s over the steps, and the process's CPU seconds per step (steps 2.. : between step events)."""
    from draem_core.config import TrainConfig, preset
    from draem_core.train import TrainPlan, train

    cfg = TrainConfig(steps=steps, batch_size=8, checkpoint_every=0, seed=0, channels_last=channels_last)
    plan = TrainPlan(data, out, preset(preset_name, size), cfg)
    last, cpu = None, []
    for event in train(plan):
        if event.kind == "step":
            cpu.append(time.process_time())
            last = event
    return 8 * last.step / last.elapsed_s, statistics.median(b - a for a, b in zip(cpu, cpu[1:], strict=False))


def synthesis_seconds(size: int, repeats: int = 5) -> float:
    import torch

    from draem_core.config import SynthConfig
    from draem_core.synthesis import AnomalySynthesizer
    from draem_core.textures import TextureBank

    synth = AnomalySynthesizer(TextureBank.load(size, size), SynthConfig())
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(8, 3, size, size, generator=gen)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        synth(images, gen)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="good training images (a category folder or a plain folder)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    import torch

    rates: dict[str, list[float]] = {"nchw": [], "channels_last": []}
    cpu: dict[str, list[float]] = {"nchw": [], "channels_last": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name in rates:
                out = Path(tmp) / f"{name}{r}.safetensors"
                rate, cpu_s = one_run(args.data, args.preset, args.size, args.steps, name != "nchw", out)
                rates[name].append(rate)
                cpu[name].append(cpu_s)
    per_step = {k: 8 / statistics.median(v) for k, v in rates.items()}
    synth_s = synthesis_seconds(args.size)
    doc = {"preset": args.preset, "size": args.size, "steps_per_run": args.steps, "rounds": args.rounds,
           "threads": torch.get_num_threads(), "load_avg": os.getloadavg(),
           "images_per_s": {k: [round(x, 2) for x in v] for k, v in rates.items()},
           "images_per_s_median": {k: round(statistics.median(v), 2) for k, v in rates.items()},
           "cpu_s_per_step_median": {k: round(statistics.median(v), 2) for k, v in cpu.items()},
           "synthesis_s_per_batch": round(synth_s, 3),
           "synthesis_share_of_a_step": {k: round(synth_s / s, 3) for k, s in per_step.items()}}  # fmt: skip
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
