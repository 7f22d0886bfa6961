"""Training: plain Python that yields progress events and stops when asked (house style §7).

for event in train(plan, should_stop=lambda: cancelled):
    print(event.kind, event.step, event.loss)
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from draem_core.alignment import ALIGN_SCALE, Aligner
from draem_core.calibration import calibrate
from draem_core.checkpoint import (
    CheckpointInfo,
    checkpoint_path,
    load_checkpoint,
    restore_optimizer,
    save_checkpoint,
)  # fmt: skip
from draem_core.config import ModelConfig, TrainConfig
from draem_core.dataset import good_images
from draem_core.device import describe, resolve_device
from draem_core.errors import DatasetError, DraemError, ImageReadError
from draem_core.imageio import read_image
from draem_core.loss import draem_loss
from draem_core.model import DraemModel
from draem_core.modelfile import ModelMetadata, now_iso, save_model
from draem_core.region import Roi, as_roi, describe_roi, fits
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank
from draem_core.training_data import TrainingImages, fingerprint, load_training_images, split_holdout


@dataclass(frozen=True)
class TrainPlan:
    """What to train: data, output and settings. The CLI and the retrain wizard both build one."""

    data: Path  # category folder (uses train/good) or plain folder of good images
    out: Path  # model file to write
    model: ModelConfig
    train: TrainConfig
    anomaly_source: Path | None = None  # texture folder; None = bundled CC0 + procedural textures
    name: str = ""  # model name; defaults to the data folder's name
    resume: Path | None = None  # checkpoint to continue
    half_weights: bool = False  # store fp16 weights in the model file
    log_every: int = 1  # yield a step event every N steps (each costs a device sync)
    images: tuple[Path, ...] | None = None  # explicit image list (the wizard's reviewed set) instead of data
    roi: Roi | None = None  # inspection region (x, y, w, h): images are cropped to it; stored in the model
    align: bool = False  # register every image to the first training image's part before cropping (stored too)
    align_scale: float = ALIGN_SCALE  # size of the reference and the registration relative to the frame


@dataclass(frozen=True)
class TrainEvent:
    """One progress report."""

    kind: str  # info | step | checkpoint | calibrating | done | cancelled
    step: int = 0
    total_steps: int = 0  # resolved budget in steps (estimated for minute budgets)
    loss: float = math.nan
    l2: float = math.nan
    ssim: float = math.nan
    focal: float = math.nan
    lr: float = 0.0
    images_per_s: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float = math.nan
    message: str = ""
    path: str = ""
    extra: dict = field(default_factory=dict)


class _Budget:
    """Resolves steps/epochs/minutes into a progress fraction and an ETA."""

    def __init__(self, cfg: TrainConfig, n_train: int) -> None:
        self.kind = cfg.budget_kind()
        self.minutes = cfg.minutes
        if self.kind == "steps":
            self.total = int(cfg.steps)  # type: ignore[arg-type]
        elif self.kind == "epochs":
            self.total = int(cfg.epochs) * math.ceil(n_train / cfg.batch_size)  # type: ignore[arg-type]
        else:
            self.total = 0

    def fraction(self, step: int, elapsed: float) -> float:
        if self.kind == "minutes":
            return elapsed / (60.0 * self.minutes)  # type: ignore[operator]
        return step / max(self.total, 1)

    def done(self, step: int, elapsed: float) -> bool:
        return self.fraction(step, elapsed) >= 1.0

    def estimate_total(self, step: int, elapsed: float) -> int:
        if self.kind != "minutes" or step == 0:
            return self.total
        return max(step, int(step / max(self.fraction(step, elapsed), 1e-9)))

    def as_dict(self) -> dict:
        return {"kind": self.kind, "total_steps": self.total, "minutes": self.minutes}


def lr_at(cfg: TrainConfig, fraction: float) -> float:
    drops = sum(fraction >= m for m in cfg.lr_milestones)
    return cfg.lr * cfg.lr_gamma**drops


def train(plan: TrainPlan, should_stop: Callable[[], bool] = lambda: False) -> Iterator[TrainEvent]:
    """Train a model, yielding events; checkpoints on schedule and on cancel; writes ``plan.out`` at the end."""
    cfg = plan.train
    budget_kind = cfg.budget_kind()  # validates the budget before any work
    device = resolve_device(cfg.device)
    ckpt_file = checkpoint_path(plan.out)
    run = _prepare(plan, device)
    plan = run.plan  # on resume, the checkpoint's network and region
    yield TrainEvent("info", message=run.summary_line(device, budget_kind), extra={"skipped": run.skipped})
    model, opt, synth, gen = run.model, run.optimizer, run.synth, run.generator
    budget = _Budget(cfg, len(run.data.train))
    step, elapsed = run.start_step, run.start_elapsed
    amp = device.type == "cuda" and cfg.amp
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()
    rate = _Rate()
    layout = torch.channels_last if _channels_last(cfg, device) else torch.contiguous_format
    model.train()
    while not budget.done(step, elapsed):
        if should_stop():
            path = _checkpoint(ckpt_file, run, step, elapsed, budget)
            yield TrainEvent("cancelled", step, budget.estimate_total(step, elapsed), elapsed_s=elapsed, path=str(path),
                             message=f"cancelled at step {step}; resume with --resume {path}")  # fmt: skip
            return
        t0 = time.perf_counter()
        lr = lr_at(cfg, budget.fraction(step, elapsed))
        for group in opt.param_groups:
            group["lr"] = lr
        batch = run.data.batch(cfg.batch_size, gen, device, cfg.crop)
        sb = synth(batch, gen)
        with autocast:
            out = model(sb.augmented.contiguous(memory_format=layout))
        terms = draem_loss(out.reconstruction, sb.target, out.logits, sb.mask, cfg.loss)
        opt.zero_grad(set_to_none=True)
        terms.total.backward()
        opt.step()
        step += 1
        log = step % plan.log_every == 0
        values = [float(v.detach()) for v in terms] if log else []  # one device sync
        if log and not all(math.isfinite(v) for v in values):
            raise DraemError(f"training diverged at step {step} (loss {values[0]}); lower the learning rate")
        elapsed += time.perf_counter() - t0
        rate.add(cfg.batch_size, time.perf_counter() - t0)
        total = budget.estimate_total(step, elapsed)
        if log:
            eta = _eta(budget, step, elapsed, total, rate)
            yield TrainEvent(
                "step", step, total, *values, lr=lr, images_per_s=rate.value(), elapsed_s=elapsed, eta_s=eta
            )
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            path = _checkpoint(ckpt_file, run, step, elapsed, budget)
            yield TrainEvent("checkpoint", step, total, elapsed_s=elapsed, path=str(path))
    path = _checkpoint(ckpt_file, run, step, elapsed, budget)
    yield TrainEvent("calibrating", step, step, elapsed_s=elapsed, message="scoring held-out good images")
    meta = _finish(plan, run, step, elapsed, device, rate)
    save_model(plan.out, model, meta, half=plan.half_weights)
    cal = meta.calibration or {}
    yield TrainEvent("done", step, step, elapsed_s=elapsed, path=str(plan.out),
                     message=f"wrote {plan.out} (threshold {cal.get('threshold', float('nan')):.4f}); "
                             f"checkpoint {path}", extra={"metadata": meta})  # fmt: skip


def _channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    return cfg.channels_last and device.type == "cpu"


class _Rate:
    """Images per second over the recent steps."""

    def __init__(self) -> None:
        self.samples: list[tuple[int, float]] = []

    def add(self, n: int, seconds: float) -> None:
        self.samples = [*self.samples[-19:], (n, seconds)]

    def value(self) -> float:
        n = sum(s[0] for s in self.samples)
        t = sum(s[1] for s in self.samples)
        return n / t if t > 0 else 0.0


def _eta(budget: _Budget, step: int, elapsed: float, total: int, rate: _Rate) -> float:
    if budget.kind == "minutes":
        return max(0.0, 60.0 * budget.minutes - elapsed)  # type: ignore[operator]
    per_step = sum(s[1] for s in rate.samples) / max(len(rate.samples), 1)
    return max(0, total - step) * per_step


@dataclass
class _Run:
    model: DraemModel
    optimizer: torch.optim.Optimizer
    synth: AnomalySynthesizer
    generator: torch.Generator
    data: TrainingImages
    start_step: int
    start_elapsed: float
    skipped: list[tuple[str, str]]
    plan: TrainPlan
    aligner: Aligner | None = None

    def summary_line(self, device: torch.device, budget_kind: str) -> str:
        cfg = self.plan.train
        budget = getattr(cfg, budget_kind)
        resumed = f", resuming at step {self.start_step}" if self.start_step else ""
        region = f" of the region {describe_roi(self.plan.roi)}" if self.plan.roi else ""
        region += ", aligned to the part of the first training image" if self.aligner else ""
        return (f"training {self.plan.model.preset} at {self.plan.model.image_height}x{self.plan.model.image_width}"
                f"{region} "
                f"on {describe(device)}: {len(self.data.train)} images, {len(self.data.holdout)} held out, "
                f"{len(self.skipped)} unreadable skipped, budget {budget} {budget_kind}{resumed}")  # fmt: skip


def _prepare(plan: TrainPlan, device: torch.device) -> _Run:
    cfg = plan.train
    size = (plan.model.image_height, plan.model.image_width)
    resume_state = None
    if plan.resume is not None:
        model, tensors, info, doc = load_checkpoint(plan.resume, device)
        if info.model != plan.model:
            model_cfg = info.model  # the checkpoint's network wins: it is what we continue
            plan = TrainPlan(**{**asdict_shallow(plan), "model": model_cfg})
            size = (model_cfg.image_height, model_cfg.image_width)
        train_paths = [Path(p) for p in info.train_images]
        hold_paths = [Path(p) for p in info.holdout_images]
        resume_state = (tensors, info, doc)
        saved_roi = as_roi(info.settings.get("roi"))
        saved = {"roi": saved_roi, "align": bool(info.settings.get("align", False)),
                 "align_scale": float(info.settings.get("align_scale", ALIGN_SCALE))}  # fmt: skip
        if any(getattr(plan, k) != v for k, v in saved.items()):  # the checkpoint's region and alignment win too
            plan = TrainPlan(**{**asdict_shallow(plan), **saved})
    else:
        paths = list(plan.images) if plan.images is not None else good_images(plan.data)
        train_paths, hold_paths = split_holdout(paths, cfg.holdout_fraction, cfg.min_holdout, cfg.seed)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching global RNG state
            torch.manual_seed(cfg.seed)
            model = DraemModel(plan.model).to(device)
    aligner = None
    if plan.align:
        aligner = reference_part(train_paths + hold_paths, plan.roi, plan.data, plan.align_scale)
        plan = TrainPlan(**{**asdict_shallow(plan), "roi": aligner.roi})
    data, skipped = load_training_images(train_paths, hold_paths, size, plan.roi, aligner)
    if len(data.train) < 2:
        unreadable = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3]) + (
            "; ..." if len(skipped) > 3 else ""
        )
        detail = f" ({len(skipped)} unreadable: {unreadable})" if skipped else ""
        raise DatasetError(
            plan.data, f"only {len(data.train)} readable training images{detail}; need at least 2"
        )
    if _channels_last(cfg, device):
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    start_step, start_elapsed = 0, 0.0
    if resume_state is not None:
        tensors, info, doc = resume_state
        restore_optimizer(plan.resume, optimizer, tensors, doc)
        gen.set_state(tensors["rng.state"])
        start_step, start_elapsed = info.step, info.elapsed_s
    tex_h, tex_w = (min(cfg.crop[0], size[0]), min(cfg.crop[1], size[1])) if cfg.crop else size
    textures = TextureBank.load(tex_h, tex_w, plan.anomaly_source, device, seed=cfg.seed)
    skipped += [(str(p), r) for p, r in textures.skipped]
    return _Run(model, optimizer, AnomalySynthesizer(textures, cfg.synth), gen, data, start_step, start_elapsed,
                skipped, plan, aligner)  # fmt: skip


def reference_part(paths: list[Path], roi: Roi | None, data: Path, scale: float) -> Aligner:
    """The aligner of the first readable image of ``paths`` (whole frame when there is no region).

    Raises:
        DatasetError: no image of ``paths`` is readable and contains the region (``data`` names the dataset).
    """
    for p in paths:
        try:
            image = read_image(p)
        except ImageReadError:
            continue
        region = roi if roi is not None else (0, 0, image.shape[1], image.shape[0])
        if fits(image.shape, region):
            return Aligner.from_frame(image, region, scale)
    raise DatasetError(data, "no readable training image contains the inspection region to align to")


def asdict_shallow(obj: object) -> dict:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}  # type: ignore[attr-defined]


def _checkpoint(path: Path, run: _Run, step: int, elapsed: float, budget: _Budget) -> Path:
    settings = {"train": _jsonable(asdict(run.plan.train)), "anomaly_source": str(run.plan.anomaly_source or ""),
                "data": str(run.plan.data), "out": str(run.plan.out),
                "roi": list(run.plan.roi) if run.plan.roi else None, "align": run.plan.align,
                "align_scale": run.plan.align_scale}  # fmt: skip
    info = CheckpointInfo(run.plan.model, step, elapsed, budget.as_dict(), [str(p) for p in run.data.train_paths],
                          [str(p) for p in run.data.holdout_paths], settings)  # fmt: skip
    return save_checkpoint(path, run.model, run.optimizer, run.generator, info)


def _jsonable(d: dict) -> dict:
    return {
        k: (_jsonable(v) if isinstance(v, dict) else list(v) if isinstance(v, tuple) else v)
        for k, v in d.items()
    }


@torch.inference_mode()
def score_images(model: DraemModel, images: torch.Tensor, batch: int = 8) -> np.ndarray:
    """Raw image scores of uint8 ``(N, 3, H, W)`` images at model size (eval mode)."""
    from draem_core.processing import anomaly_map, image_score

    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    scores = []
    for i in range(0, images.shape[0], batch):
        x = images[i : i + batch].to(dev).float() / 255.0
        scores.append(image_score(anomaly_map(model(x).logits)).float().cpu())
    model.train(was_training)
    return torch.cat(scores).numpy() if scores else np.zeros(0, np.float32)


def _finish(
    plan: TrainPlan, run: _Run, step: int, elapsed: float, device: torch.device, rate: _Rate
) -> ModelMetadata:
    data = run.data
    holdout = data.holdout if len(data.holdout) else data.train
    good_scores = score_images(run.model, holdout)
    cal = calibrate(good_scores)
    synth_scores = _synthetic_scores(run, holdout)
    cfg = plan.train
    training = {
        "steps": step, "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed, "elapsed_s": round(elapsed, 1),
        "device": describe(device), "images_per_s": round(rate.value(), 2), "n_train": len(data.train),
        "n_holdout": len(data.holdout), "calibrated_on": "held-out good images" if len(data.holdout) else
        "training images (too few images to hold any out)", "anomaly_source": str(plan.anomaly_source or "bundled"),
        "budget": {k: getattr(cfg, k) for k in ("steps", "epochs", "minutes")}, "skipped": run.skipped,
        "holdout_scores": [round(float(s), 5) for s in good_scores],
        "synthetic_defect_scores": [round(float(s), 5) for s in synth_scores],
    }  # fmt: skip
    name = plan.name or (
        plan.data.name if plan.data.name not in ("", "good", "train") else plan.data.parent.name
    )
    return ModelMetadata(model=plan.model, name=name, calibration=cal.to_dict(), training=training,
                         dataset_fingerprint=fingerprint(data.train_paths + data.holdout_paths), created=now_iso(),
                         roi=run.plan.roi, alignment=run.aligner.to_dict() if run.aligner else None)  # fmt: skip


def _synthetic_scores(run: _Run, images: torch.Tensor) -> np.ndarray:
    """Scores of the held-out images with a synthetic anomaly pasted in (for the wizard's histogram)."""
    from dataclasses import replace

    gen = torch.Generator(device=run.generator.device).manual_seed(run.plan.train.seed + 1)
    synth = AnomalySynthesizer(run.synth.textures, replace(run.synth.config, p_anomaly=1.0, p_rotate=0.0))
    dev = next(run.model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, images.shape[0], 8):
            sb = synth(images[i : i + 8].to(dev).float() / 255.0, gen)
            keep = sb.has_anomaly > 0
            if keep.any():
                out.append(score_images(run.model, (sb.augmented[keep] * 255).round().byte()))
    return np.concatenate(out) if out else np.zeros(0, np.float32)
