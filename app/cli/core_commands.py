"""Model commands: train, eval, predict, synth, model-info, export-onnx (the CLI contract of issue 2)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

from app.cli.backend_args import add_backend_arguments, open_inspector
from draem_core.errors import DatasetError, DraemError, shown


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on good images")
    p.add_argument("data", type=Path, help="category folder (uses train/good) or a folder of good images")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.safetensors)")
    p.add_argument(
        "--preset", help="paper | half | compact | cpu | tiny | micro (default: cpu on a CPU, paper on a GPU)"
    )
    p.add_argument(
        "--size", help="model input: N or HxW (multiples of 32; default: the images' aspect at about 256x256 pixels)"
    )
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int)
    budget.add_argument("--epochs", type=int)
    budget.add_argument("--minutes", type=float)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument(
        "--crop", help="train on random HxW windows of the images at --size (high resolution, cheap steps)"
    )
    p.add_argument(
        "--roi",
        help="inspection region X,Y,WIDTH,HEIGHT in image pixels: train on it, and the model inspects only it",
    )
    p.add_argument(
        "--align",
        action="store_true",
        help="register every image to the part of the first training image before cropping the region "
        "(parts that shift or turn on the line); the model aligns live frames the same way",
    )
    p.add_argument(
        "--align-scale",
        type=_align_scale,
        default=None,
        help="with --align: size of the reference and the registration relative to the frame (default 0.25; "
        "0.5 is about twice as precise and takes ~10 ms per 640x480 frame)",
    )
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument(
        "--rotate-p",
        type=float,
        default=0.0,
        help="probability of rotating a normal training image ±90° (default 0: fixed camera; the paper's code 0.3)",
    )
    p.add_argument(
        "--self-paste-p",
        type=_probability,
        default=None,
        help="share of synthetic anomalies that paste a shifted piece of the image itself instead of a texture "
        "(default 0: the paper's texture paste only)",
    )
    p.add_argument(
        "--target-frr",
        type=_frr,
        default=None,
        help="false-reject rate the threshold aims for (default 1%%); the trade-off against escapes is printed",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--anomaly-source", type=Path, help="folder of texture images (default: bundled textures)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", type=Path, help="checkpoint to continue (<model>.ckpt.safetensors)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    p.add_argument("--holdout", type=float, default=0.1, help="share of good images kept for calibration")
    p.add_argument("--name", default="", help="model name shown in the app")
    p.add_argument("--half-weights", action="store_true", help="store fp16 weights (half the file size)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="evaluate a model on an MVTec-style test set")
    p.add_argument("data", type=Path)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--json", type=Path, help="write the metrics as JSON")
    p.add_argument("--plots", type=Path, help="folder for ROC, histogram and worst-case contact sheets")
    p.add_argument("--threshold", type=float, help="raw threshold (default: the model's calibrated one)")
    p.add_argument("--device", default="auto")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("calibrate", help="set a model's threshold from more good images (no retraining)")
    p.add_argument("data", type=Path, help="folder of good images not used for training (or a category)")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="model file to write (may be --model itself)")
    p.add_argument("--target-frr", type=_frr, default=None, help="false-reject rate to aim for (default 1 %%)")
    p.add_argument("--defects", type=Path, help="folder of real defective images, for their escape rate")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("predict", help="score images and write heatmap overlays")
    p.add_argument("images", type=Path, nargs="+")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--json", type=Path)
    p.add_argument("--device", default="auto")
    add_backend_arguments(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("synth", help="write a grid of synthetic anomalies and their masks")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--anomaly-source", type=Path)
    p.add_argument("--n", type=int, default=8)
    p.add_argument("--images", type=Path, help="folder of normal images (default: procedural)")
    p.add_argument("--size", default="256")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("model-info", help="parameters and GFLOP of a preset or a model file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset")
    src.add_argument("--model", type=Path)
    p.add_argument("--size", help="N or HxW (preset only)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_model_info)

    p = sub.add_parser("export-onnx", help="export a model to ONNX (maps and scores as outputs)")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_export_onnx)


def parse_size(text: str | None) -> int | tuple[int, int] | None:
    if not text:
        return None
    try:
        if "x" in text.lower():
            h, w = text.lower().split("x")
            return int(h), int(w)
        return int(text)
    except ValueError as exc:
        raise DraemError(f"--size {text!r}: use N or HxW, e.g. 256 or 160x384") from exc


def _number_in(low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a number within [low, high], else one line naming the value and the range."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan  # fails the range check below
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} between {low:g} and {high:g}")
        return value

    return parse


_align_scale = _number_in(0.05, 1.0, "a scale")
_probability = _number_in(0.0, 1.0, "a probability")


def _frr(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"{text!r} is not a false-reject rate between 0 and 0.5 (e.g. 0.01 or 1%)")
    return value


def _auto_model(args: argparse.Namespace, roi: tuple[int, int, int, int] | None) -> tuple[str, tuple[int, int], int]:
    """Preset, input size and step budget: the flags where given, else the defaults (draem_core.defaults)."""
    from draem_core.dataset import good_images
    from draem_core.defaults import dataset_input_size, default_budget
    from draem_core.device import resolve_device

    preset_name, steps = default_budget(resolve_device(args.device).type)
    size = parse_size(args.size)
    if size is None:
        size = (256, 256) if args.resume is not None else dataset_input_size(good_images(args.data)[0], roi)
    hw = (size, size) if isinstance(size, int) else size
    return args.preset or preset_name, hw, steps


def cmd_train(args: argparse.Namespace) -> int:
    from app.cli.progress import ProgressBar
    from draem_core.alignment import ALIGN_SCALE
    from draem_core.config import SynthConfig, TrainConfig, preset
    from draem_core.region import parse_roi
    from draem_core.threshold import FRR_TARGET
    from draem_core.train import TrainPlan, train

    if args.resume is None and not args.data.exists():
        raise DatasetError(args.data, "folder does not exist")
    roi = parse_roi(args.roi) if args.roi else None
    preset_name, size, default_steps = _auto_model(args, roi)
    budget = {"steps": args.steps, "epochs": args.epochs, "minutes": args.minutes}
    if all(v is None for v in budget.values()):
        budget["steps"] = default_steps
    crop = parse_size(args.crop)
    crop = (crop, crop) if isinstance(crop, int) else crop
    overrides = {"p_self": args.self_paste_p} if args.self_paste_p is not None else {}  # else SynthConfig's default
    synth = SynthConfig(p_rotate=args.rotate_p, **overrides)
    cfg = TrainConfig(**budget, batch_size=args.batch, crop=crop, lr=args.lr, device=args.device, seed=args.seed,
                      synth=synth, checkpoint_every=args.checkpoint_every, holdout_fraction=args.holdout)  # fmt: skip
    plan = TrainPlan(args.data, args.out, preset(preset_name, size), cfg,
                     args.anomaly_source, args.name, args.resume, half_weights=args.half_weights, roi=roi,
                     align=args.align, align_scale=args.align_scale or ALIGN_SCALE,
                     target_frr=args.target_frr or FRR_TARGET)  # fmt: skip
    bar = ProgressBar()
    for event in train(plan):
        if event.kind == "info":
            print(event.message, file=sys.stderr)
            for path, reason in event.extra.get("skipped", []):
                print(f"  skipped {shown(path)}: {reason}", file=sys.stderr)
        elif event.kind == "step":
            bar.update(event)
        elif event.kind in ("checkpoint", "calibrating"):
            bar.note(f"{event.kind} at step {event.step} {event.path}")
        elif event.kind in ("done", "cancelled"):
            bar.close()
            print(event.message)
            _print_validation(event.extra.get("metadata"))
    return 0


def _print_validation(meta: object) -> None:
    """The scoring chosen on the validation split and the FRR/escape trade-off of the new threshold."""
    from draem_core.threshold import TradeOff

    if meta is None or not getattr(meta, "scoring", None):
        return
    scoring = meta.scoring  # type: ignore[attr-defined]
    print(f"scoring   {scoring['method']}: {scoring['chosen_on']}")
    for method, fig in (scoring.get("validation") or {}).items():
        escape = "n/a" if fig["escape"] is None else f"{fig['escape']:.1%}"
        kinds = ", ".join(f"{k} {v:.0%}" for k, v in (fig.get("escape_by_kind") or {}).items())
        print(f"  {method:<22} validation AUROC {fig['auroc']:.4f}  synthetic escapes {escape}"
              + (f" ({kinds})" if kinds else ""))  # fmt: skip
    tradeoff = (meta.calibration or {}).get("tradeoff")  # type: ignore[attr-defined]
    if tradeoff:
        print(TradeOff.from_dict(tradeoff).table())


def cmd_eval(args: argparse.Namespace) -> int:
    from draem_core.evaluate import evaluate, write_plots
    from draem_core.imageio import write_bytes_atomic
    from draem_core.region import describe_roi

    inspector = open_inspector(args)
    if inspector.model_roi is not None:
        print(f"inspection region {describe_roi(inspector.model_roi)} (the model's; images and masks cropped to it)")
    report, scored, skipped = evaluate(inspector, args.data, args.threshold)
    for path, reason in skipped:
        print(f"skipped {shown(path)}: {reason}", file=sys.stderr)
    from draem_core.per_type import table

    doc = report.to_dict()
    for key, value in doc.items():
        if key == "per_type":
            continue
        text = "n/a" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)
        print(f"{key:<18} {text}")
    if report.per_type:
        print(table(report.per_type))
    if args.json:
        write_bytes_atomic(args.json, (json.dumps(doc, indent=2) + "\n").encode())
    if args.plots:
        for p in write_plots(report, scored, args.plots, roi=inspector.model_roi):
            print(f"plot {p}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from draem_core.recalibration import recalibrate
    from draem_core.threshold import FRR_TARGET

    def progress(i: int, n: int) -> None:
        if i % 80 == 0 or i == n:  # score_items reports every 8 images
            print(f"scored {i}/{n} good images", file=sys.stderr)

    new, old, skipped, tradeoff = recalibrate(args.model, args.data, args.out, args.target_frr or FRR_TARGET,
                                              args.device, progress, args.defects)  # fmt: skip
    for path, reason in skipped:
        print(f"skipped {shown(path)}: {reason}", file=sys.stderr)
    before = f"{old.threshold:.4f} (from {old.n_good} good images)" if old else "none"
    print(f"threshold {before} -> {new.threshold:.4f} (from {new.n_good} good images)")
    print(f"method    {new.method}")
    if new.note:
        print(f"note      {new.note}")
    print(tradeoff.table())
    print(f"wrote {args.out}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from draem_core.imageio import read_image, to_uint8_rgb, write_bytes_atomic, write_image_atomic
    from draem_core.overlay import heatmap_overlay

    inspector = open_inspector(args)
    results, failures = [], 0
    for path in args.images:
        try:
            frame = read_image(path)
            r = inspector.inspect(frame)
        except DraemError as exc:
            print(f"skipped: {exc}", file=sys.stderr)
            failures += 1
            continue
        out = args.out / f"{path.stem}_overlay.png"
        write_image_atomic(out, heatmap_overlay(to_uint8_rgb(frame), r.anomaly_map, threshold=0.5))
        results.append({"image": str(path), "score": r.score, "normalized": r.normalized, "verdict": r.verdict,
                        "threshold": r.threshold, "overlay": str(out)})  # fmt: skip
        print(f"{r.verdict}  raw {r.score:.4f}  normalised {r.normalized:.3f}  {shown(path)}")
    if args.json:
        write_bytes_atomic(args.json, (json.dumps(results, indent=2) + "\n").encode())
    if not results:
        raise DraemError("no image could be read")
    return 1 if failures else 0


def cmd_synth(args: argparse.Namespace) -> int:
    from draem_core.synth_preview import synth_grid

    size = parse_size(args.size) or 256
    hw = (size, size) if isinstance(size, int) else size
    path = synth_grid(args.out, n=args.n, size=hw, anomaly_source=args.anomaly_source, images=args.images,
                      seed=args.seed)  # fmt: skip
    print(f"wrote {path}")
    return 0


def cmd_model_info(args: argparse.Namespace) -> int:
    from draem_core.config import preset
    from draem_core.flops import model_info
    from draem_core.modelfile import load_model

    if args.model:
        model, meta = load_model(args.model)
        info = model_info(meta.model)
        info.update({"name": meta.name, "created": meta.created, "roi": meta.roi, "calibration": meta.calibration,
                     "training": {k: v for k, v in meta.training.items() if not k.endswith("scores")}})  # fmt: skip
    else:
        info = model_info(preset(args.preset, parse_size(args.size)))
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:<12} {v}")
    return 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from draem_core.modelfile import load_model
    from draem_core.onnx_export import export_onnx
    from draem_core.region import describe_roi

    path = export_onnx(args.model, args.out)
    print(f"wrote {path}")
    meta = load_model(args.model)[1]
    if meta.roi is not None:
        print(f"note: the model inspects the region {describe_roi(meta.roi)} of each frame; crop frames to it, then resize")
    if meta.alignment:
        print("note: the model aligns each frame to its reference part before cropping (draem_core.alignment); "
              "the ONNX file holds only the network, so align frames the same way before running it")  # fmt: skip
    return 0
