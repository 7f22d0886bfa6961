"""Every inference backend x precision on the same frames, interleaved, through ``Inspector.inspect``; prints JSON.

    python bench/backends.py --frames 60 --repeats 3 --calibration runs/demo_cal/test/good [--eval runs/demo_test]

Configurations: ``before`` (the Inspector path before this change, replicated here: eager NCHW, and the
score's 21x21 mean filter with ``avg_pool2d``), ``torch`` (eager, channels_last), onnxruntime and openvino at
fp32, bf16 (openvino, where the CPU has it) and int8, and ``auto`` (chosen afresh in a temporary cache). Each
frame is inspected by every configuration in turn, so load from other jobs on a shared machine falls on all of
them alike; wall time (all runs, and each frame's fastest of ``--repeats`` runs) and the process's CPU time are
recorded (CPU time is what contention disturbs least). A configuration that its validation refuses is still
measured (unvalidated, flagged with the reason): the table shows what it would give. ``--eval`` adds image and
pixel AUROC on a labelled test set per configuration (``draem_core.evaluate``, the ``eval`` command's path).
Package sizes are the installed files of each extra's packages that the base app does not already have.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's entry point does
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

EXTRAS = {"onnxruntime": ["onnxruntime", "onnx", "protobuf", "flatbuffers"], "openvino": ["openvino", "openvino-telemetry", "onnx", "protobuf"]}
SPECS = ["onnxruntime", "onnxruntime:int8", "openvino", "openvino:bf16", "openvino:int8"]


def installed_mb(packages: list[str]) -> float:
    total = 0
    for name in packages:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        total += sum(f.size or 0 for f in files)
    return round(total / 2**20, 1)


def before_inspector_class(inspector_class: type) -> type:
    """An Inspector whose network call and score are those of the code before backends (commit 0c502ad)."""
    import torch
    import torch.nn.functional as F

    from draem_core.processing import resize_to_model

    class BeforeBackends(inspector_class):
        @torch.inference_mode()
        def predict_tensor(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            maps = self.backend.anomaly_maps(resize_to_model(images.to(self.device), self.size))  # eager NCHW
            pooled = F.avg_pool2d(maps[:, None], 21, stride=1, padding=10, count_include_pad=True)
            return maps, pooled.flatten(1).amax(dim=1)

    return BeforeBackends


def inspectors(model: Path, options, cache: Path) -> tuple[dict, dict]:
    """name -> Inspector, and name -> its validation verdict ("accepted" or the refusal)."""
    from draem_core.backends import BackendError, BackendOptions, BackendRequest
    from draem_core.backends.selection import BackendOpener
    from draem_core.backends.torch_backend import TorchBackend
    from draem_core.inspector import Inspector
    from draem_core.modelfile import load_model

    out, verdicts = {}, {}
    before = before_inspector_class(Inspector).from_file(model, "cpu")
    before.backend = TorchBackend(load_model(model)[0], before.device, channels_last=False)  # its own NCHW weights
    out["before"] = before
    out["torch"] = Inspector.from_file(model, "cpu")
    for text in SPECS:
        spec = BackendRequest.parse(text).spec()
        inspector = Inspector.from_file(model, "cpu")
        opener = BackendOpener(inspector, options)
        try:
            inspector.backend = opener.open(spec)
            verdicts[text] = "accepted"
        except BackendError as exc:
            verdicts[text] = exc.reason
            try:
                inspector.backend = opener.derive(spec)
            except Exception:  # noqa: BLE001 - not installed or not offered on this CPU
                continue
        out[text] = inspector
    auto_options = BackendOptions(cache_dir=cache / "auto", good_frames=options.good_frames)
    t0 = time.perf_counter()
    out["auto"] = Inspector.from_file(model, "cpu", "auto", auto_options)
    verdicts["auto"] = {"chose": str(out["auto"].backend.spec), "choosing_s": round(time.perf_counter() - t0, 1),
                        **out["auto"].backend.info.get("auto", {})}  # fmt: skip
    return out, verdicts


def interleaved(insps: dict, frames: list, repeats: int) -> dict:
    """Every frame through every configuration in turn, ``repeats`` times: measured frames/s and latency (all
    runs), CPU time per frame, and ``fps_best``: frames/s from each frame's fastest run, the estimate least
    disturbed by other jobs (timeit's rule: interference only ever adds time)."""
    for inspector in insps.values():
        for f in frames[:3]:
            inspector.inspect(f)
    wall = {k: [[] for _ in frames] for k in insps}
    cpu = {k: [] for k in insps}
    for i, f in enumerate(frames):
        for _ in range(repeats):
            for name, inspector in insps.items():
                c0, t0 = time.process_time(), time.perf_counter()
                inspector.inspect(f)
                wall[name][i].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    out = {}
    for name in insps:
        runs = sorted(t for per_frame in wall[name] for t in per_frame)
        best = [min(per_frame) for per_frame in wall[name]]
        out[name] = {"fps": round(len(runs) / sum(runs), 2), "ms_p50": round(statistics.median(runs) * 1e3, 1),
                     "ms_p95": round(runs[round(0.95 * (len(runs) - 1))] * 1e3, 1),
                     "fps_best": round(len(best) / sum(best), 2), "ms_best_p50": round(statistics.median(best) * 1e3, 1),
                     "cpu_ms_per_frame": round(statistics.mean(cpu[name]) * 1e3, 1)}  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="model file (default: the bundled demo model)")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3, help="runs of every frame per configuration (default 3)")
    ap.add_argument("--calibration", type=Path, required=True, help="good images (not test images)")
    ap.add_argument("--eval", type=Path, help="labelled test set (MVTec layout) for AUROC per configuration")
    args = ap.parse_args()

    import torch

    from app.cli.backend_args import MAX_GOOD_FRAMES
    from app.cli.bench_commands import bench_frames
    from app.paths import bundled_model
    from draem_core.backends import BackendOptions
    from draem_core.dataset import good_images
    from draem_core.imageio import read_images

    model = args.model or bundled_model()
    frames, source = bench_frames(None, args.frames)
    good = tuple(read_images(good_images(args.calibration)[0][:MAX_GOOD_FRAMES])[0])
    with tempfile.TemporaryDirectory() as tmp:
        options = BackendOptions(cache_dir=Path(tmp) / "cache", good_frames=good)
        insps, verdicts = inspectors(model, options, Path(tmp))
        doc = {"model": str(model), "source": source, "frames": args.frames, "threads": torch.get_num_threads(),
               "cpu": os.cpu_count(), "load_avg_before": os.getloadavg(), "validation": verdicts,
               "speed": interleaved(insps, frames, args.repeats), "load_avg_after": os.getloadavg(),
               "installed_mb": {k: installed_mb(v) for k, v in EXTRAS.items()}}  # fmt: skip
        if args.eval:
            from draem_core.evaluate import evaluate

            doc["eval"] = {}
            for name, inspector in insps.items():
                report = evaluate(inspector, args.eval)[0].to_dict()
                doc["eval"][name] = {k: report[k] for k in ("image_auroc", "pixel_auroc", "false_reject_rate", "escape_rate")}
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
