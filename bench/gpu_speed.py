"""Issue 8: the paper-size model at camera speed and retraining in minutes. One script, one JSON report.

    python bench/gpu_speed.py --out gpu_report.json            # on the H200 (about 8 minutes)
    python bench/gpu_speed.py --quick --device cpu --out r.json  # rehearsal on a CPU at a tiny size

Measures, side by side in one process:
1. throughput at several batch sizes: plain eager fp32 NCHW (the reference code's way) vs the app's path
   (``Inspector.predict_tensor``: uint8 upload, resize on the device, bf16 autocast, channels_last, cuDNN autotune);
2. single-frame latency, host uint8 frame -> map and score back in host memory (256² and 1920×1200 frames);
3. agreement of the optimised path with fp32 (max |Δmap|, max |Δscore|);
4. training images/s with anomaly synthesis on the GPU vs in CPU data-loader workers; peak memory at batch 8;
5. a product model trained for 10 minutes on demo-line data, image/pixel AUROC at 2, 5 and 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from draem_core.config import TrainConfig, preset  # noqa: E402
from draem_core.device import describe, resolve_device  # noqa: E402
from draem_core.inspector import Inspector  # noqa: E402
from draem_core.model import DraemModel  # noqa: E402
from draem_core.modelfile import ModelMetadata  # noqa: E402
from draem_core.processing import anomaly_map, image_score  # noqa: E402


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, dev: torch.device, seconds: float, min_iters: int = 3) -> list[float]:
    fn()
    sync(dev)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < min_iters:
        t = time.perf_counter()
        fn()
        sync(dev)
        times.append(time.perf_counter() - t)
    return times


def throughput(
    model: DraemModel, dev: torch.device, size: tuple[int, int], batches: list[int], secs: float
) -> list[dict]:
    insp = Inspector(model, ModelMetadata(model=model.config), dev)
    eager = DraemModel(model.config).to(dev).eval()
    eager.load_state_dict(model.state_dict())
    rows = []
    for b in batches:
        frames = torch.randint(0, 256, (b, 3, *size), dtype=torch.uint8, device=dev)
        x = frames.float() / 255

        def ref(x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                image_score(anomaly_map(eager(x).logits))

        for name, fn in (
            ("eager_fp32", ref),
            ("app_path", lambda frames=frames: insp.predict_tensor(frames)),
        ):
            try:
                t = float(np.median(timed(fn, dev, secs)))
                rows.append(
                    {
                        "path": name,
                        "batch": b,
                        "images_per_s": round(b / t, 1),
                        "ms_per_batch": round(t * 1e3, 3),
                    }
                )
            except torch.OutOfMemoryError:
                rows.append({"path": name, "batch": b, "error": "out of memory"})
                torch.cuda.empty_cache()
    return rows


def latency(model: DraemModel, dev: torch.device, shape: tuple[int, int], secs: float) -> dict:
    insp = Inspector(model, ModelMetadata(model=model.config), dev)
    frame = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    t = np.array(timed(lambda: insp.inspect(frame), dev, secs, 10)) * 1e3
    return {"frame": list(shape), "p50_ms": round(float(np.median(t)), 3), "p95_ms": round(float(np.percentile(t, 95)), 3),
            "frames_per_s": round(1e3 / float(np.median(t)), 1)}  # fmt: skip


def agreement(model: DraemModel, dev: torch.device, size: tuple[int, int]) -> dict:
    insp = Inspector(model, ModelMetadata(model=model.config), dev)
    ref = DraemModel(model.config).to(dev).eval()
    ref.load_state_dict(model.state_dict())
    frames = torch.randint(0, 256, (8, 3, *size), dtype=torch.uint8, device=dev)
    with torch.inference_mode():
        m_ref = anomaly_map(ref(frames.float() / 255).logits)
    maps, scores = insp.predict_tensor(frames)
    return {"max_abs_map_diff": float((maps.float() - m_ref).abs().max()),
            "max_abs_score_diff": float((scores.float() - image_score(m_ref)).abs().max())}  # fmt: skip


def train_rate(
    data: Path, name: str, size: tuple[int, int], dev: torch.device, steps: int, workers: int
) -> dict:
    """Images/s of the real training loop (GPU synthesis) and of a CPU-worker synthesis loader feeding it."""
    from draem_core.train import TrainPlan, train

    out = Path("/tmp/gpu_bench/rate.safetensors")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    cfg = TrainConfig(steps=steps, batch_size=8, device=str(dev), checkpoint_every=0)
    plan = TrainPlan(data, out, preset(name, size), cfg, log_every=min(5, steps))
    rates = [e.images_per_s for e in train(plan) if e.kind == "step"]
    rec = {"gpu_synthesis_images_per_s": round(rates[-1], 1)}
    if dev.type == "cuda":
        rec["peak_train_mb_batch8"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
    rec["cpu_worker_synthesis_images_per_s"] = round(cpu_worker_rate(size, workers, steps), 1)
    return rec


class _CpuSynth(torch.utils.data.Dataset):
    def __init__(self, size: tuple[int, int], n: int) -> None:
        self.size, self.n, self.synth = size, n, None

    def __len__(self) -> int:
        return self.n * 8

    def __getitem__(self, i: int):
        from draem_core.synthesis import AnomalySynthesizer
        from draem_core.textures import TextureBank

        if self.synth is None:  # built inside each worker, seeded per worker (DRAEM.md §2 note)
            torch.set_num_threads(1)
            self.synth = AnomalySynthesizer(TextureBank.load(*self.size, n_procedural=8))
            self.gen = torch.Generator().manual_seed(
                torch.utils.data.get_worker_info().id if torch.utils.data.get_worker_info() else 0
            )
        b = self.synth(torch.rand(1, 3, *self.size), self.gen)
        return b.augmented[0], b.target[0], b.mask[0]


def cpu_worker_rate(size: tuple[int, int], workers: int, steps: int) -> float:
    loader = torch.utils.data.DataLoader(
        _CpuSynth(size, steps), batch_size=8, num_workers=workers, pin_memory=True
    )
    it = iter(loader)
    next(it)
    t, n = time.perf_counter(), 0
    for batch in it:
        n += batch[0].shape[0]
    return n / (time.perf_counter() - t)


def product_run(
    name: str, size: tuple[int, int], dev: torch.device, minutes: float, marks: list[float], work: Path
) -> list[dict]:
    """Train on demo-line data for ``minutes``; evaluate snapshots taken at ``marks`` (minutes)."""
    from draem_core.checkpoint import load_checkpoint
    from draem_core.evaluate import evaluate
    from draem_core.train import TrainPlan, train

    data = work / "demo"
    if not data.exists():
        subprocess.run([sys.executable, "-m", "app.cli.main", "demo-data", "--out", str(data), "--good", "60",
                        "--defective", "60", "--train-good", "200", "--seed", "7"], check=True, cwd=ROOT)  # fmt: skip
    out = work / "product.safetensors"
    cfg = TrainConfig(minutes=minutes, batch_size=8, device=str(dev), checkpoint_every=25)
    snaps, pending = [], list(marks)
    for e in train(TrainPlan(data, out, preset(name, size), cfg, log_every=25)):
        if e.kind == "checkpoint" and pending and e.elapsed_s >= 60 * pending[0]:
            snap = work / f"snap_{pending.pop(0)}.safetensors"
            shutil.copy(e.path, snap)
            snaps.append((e.elapsed_s, e.step, snap))
    snaps.append((None, None, out))
    rows = []
    for elapsed, step, path in snaps:
        if path.name.startswith("snap"):
            model, _, _, _ = load_checkpoint(path, dev)
            insp = Inspector(model.eval(), ModelMetadata(model=model.config), dev)
        else:
            insp = Inspector.from_file(path, str(dev))
        report, _, _ = evaluate(insp, data)
        rows.append(
            {"minutes": round(elapsed / 60, 2) if elapsed else minutes, "step": step, **report.to_dict()}
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("gpu_report.json"))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and budgets (CPU rehearsal)")
    ap.add_argument("--skip-product", action="store_true")
    args = ap.parse_args()
    dev = resolve_device(args.device)
    torch.backends.cudnn.benchmark = True
    q = args.quick
    name, size = ("micro", (64, 64)) if q else ("paper", (256, 256))
    secs = 0.5 if q else 3.0
    report: dict = {"device": describe(dev), "torch": torch.__version__, "preset": name, "size": list(size)}
    if dev.type == "cuda":
        report["cuda"] = torch.version.cuda
    model = DraemModel(preset(name, size)).to(dev).eval()

    def step(key: str, fn) -> None:
        t = time.perf_counter()
        try:
            report[key] = fn()
        except Exception as exc:  # noqa: BLE001  (a failed measurement must not lose the others)
            report[key] = {"error": repr(exc)}
        report.setdefault("seconds", {})[key] = round(time.perf_counter() - t, 1)
        args.out.write_text(json.dumps(report, indent=1))
        print(key, json.dumps(report[key])[:400], flush=True)

    step("throughput", lambda: throughput(model, dev, size, [1, 8] if q else [1, 8, 32, 64, 128, 256], secs))
    step("latency_256", lambda: latency(model, dev, (256, 256) if not q else (64, 64), secs))
    step("latency_1920x1200", lambda: latency(model, dev, (1200, 1920), secs))
    step("agreement", lambda: agreement(model, dev, size))
    if dev.type == "cuda":
        report["peak_infer_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20)
    bs = ROOT.parent / "shared/data/ball_screw_bsdata/ball_screw"
    step("training", lambda: train_rate(bs, name, size, dev, 4 if q else 60, 2 if q else 12))
    if not args.skip_product:
        marks, minutes = ([0.05, 0.1], 0.2) if q else ([2.0, 5.0], 10.0)
        step("product", lambda: product_run(name, size, dev, minutes, marks, Path("/tmp/gpu_bench")))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
