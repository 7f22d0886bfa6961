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

import torch

from draem_core.alignment import ALIGN_SCALE, Aligner
from draem_core.checkpoint import (
    CheckpointInfo,
    checkpoint_path,
    load_checkpoint,
    restore_optimizer,
    restore_rng,
    save_checkpoint,
)  # fmt: skip
from draem_core.config import ModelConfig, TrainConfig
from draem_core.dataset import good_images
from draem_core.device import describe, resolve_device
from draem_core.errors import DatasetError, DraemError, ImageReadError
from draem_core.imageio import read_image, remove_leftover_temp_files
from draem_core.loss import draem_loss
from draem_core.model import DraemModel
from draem_core.modelfile import ModelMetadata, now_iso, save_model
from draem_core.region import Roi, as_roi, describe_roi, fits
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank
from draem_core.threshold import FRR_TARGET
from draem_core.training_data import TrainingImages, fingerprint, load_training_images, split_holdout
from draem_core.validation import choose_scoring


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
    target_frr: float = FRR_TARGET  # false-reject target of the threshold set after training
    validation_source: Path | None = None  # held-out textures for the validation anomalies; None = procedural


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
    leftovers = [p for f in (plan.out, ckpt_file) for p in remove_leftover_temp_files(f.parent, f.name)]
    run = _prepare(plan, device)
    plan = run.plan  # on resume, the checkpoint's network and region
    note = f"; removed {len(leftovers)} temp files left by an interrupted write" if leftovers else ""
    yield TrainEvent("info", message=run.summary_line(device, budget_kind) + note,
                     extra={"skipped": run.skipped, "removed": [str(p) for p in leftovers]})  # fmt: skip
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
    meta, extra = _finish(plan, run, step, elapsed, device, rate)
    save_model(plan.out, model, meta, half=plan.half_weights, extra=extra)
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
    fingerprint: str = ""  # of the images read (computed before training, so no name or file can fail it after)

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
    resume_state, folder_skips = None, []
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
        paths, folder_skips = (list(plan.images), []) if plan.images is not None else good_images(plan.data)
        train_paths, hold_paths = split_holdout(paths, cfg.holdout_fraction, cfg.min_holdout, cfg.seed)
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching global RNG state
            torch.manual_seed(cfg.seed)
            model = DraemModel(plan.model).to(device)
    aligner = None
    if plan.align:
        aligner = reference_part(train_paths + hold_paths, plan.roi, plan.data, plan.align_scale)
        plan = TrainPlan(**{**asdict_shallow(plan), "roi": aligner.roi})
    data, skipped = load_training_images(train_paths, hold_paths, size, plan.roi, aligner)
    skipped = folder_skips + skipped
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
        restore_rng(plan.resume, gen, tensors)
        start_step, start_elapsed = info.step, info.elapsed_s
    tex_h, tex_w = (min(cfg.crop[0], size[0]), min(cfg.crop[1], size[1])) if cfg.crop else size
    textures = TextureBank.load(tex_h, tex_w, plan.anomaly_source, device, seed=cfg.seed)
    skipped += [(str(p), r) for p, r in textures.skipped]
    return _Run(model, optimizer, AnomalySynthesizer(textures, cfg.synth), gen, data, start_step, start_elapsed,
                skipped, plan, aligner, fingerprint(data.train_paths + data.holdout_paths))  # fmt: skip


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


def _finish(
    plan: TrainPlan, run: _Run, step: int, elapsed: float, device: torch.device, rate: _Rate
) -> tuple[ModelMetadata, dict[str, torch.Tensor]]:
    data = run.data
    holdout = data.holdout if len(data.holdout) else data.train
    chosen = choose_scoring(run.model, data.train, holdout, plan.train.synth, plan.validation_source,
                            plan.target_frr)  # fmt: skip
    cfg = plan.train
    training = {
        "steps": step, "batch_size": cfg.batch_size, "lr": cfg.lr, "seed": cfg.seed, "elapsed_s": round(elapsed, 1),
        "device": describe(device), "images_per_s": round(rate.value(), 2), "n_train": len(data.train),
        "n_holdout": len(data.holdout), "calibrated_on": "held-out good images" if len(data.holdout) else
        "training images (too few images to hold any out)", "anomaly_source": str(plan.anomaly_source or "bundled"),
        "budget": {k: getattr(cfg, k) for k in ("steps", "epochs", "minutes")}, "skipped": run.skipped,
        "rotate_p": cfg.synth.p_rotate, "self_paste_p": cfg.synth.p_self, "crop": list(cfg.crop) if cfg.crop else None,
        "holdout_scores": [round(float(s), 5) for s in chosen.good_scores],
        "synthetic_defect_scores": [round(float(s), 5) for s in chosen.synthetic_scores],
    }  # fmt: skip
    name = plan.name or (
        plan.data.name if plan.data.name not in ("", "good", "train") else plan.data.parent.name
    )
    calibration = {**chosen.calibration.to_dict(), "tradeoff": chosen.tradeoff.to_dict()}
    extra = chosen.stats.tensors() if chosen.scoring.normalized and chosen.stats is not None else {}
    meta = ModelMetadata(model=plan.model, name=name, calibration=calibration, training=training,
                         dataset_fingerprint=run.fingerprint, created=now_iso(),
                         roi=run.plan.roi, alignment=run.aligner.to_dict() if run.aligner else None,
                         scoring=chosen.scoring.to_dict())  # fmt: skip
    return meta, extra


def finish_again(checkpoint: Path, out: Path, device: str = "cpu", target_frr: float = FRR_TARGET) -> ModelMetadata:
    """Write ``out`` from a training checkpoint as the end of training would: scoring chosen on the validation
    split, threshold at ``target_frr``. For a model trained before a change of the scoring or threshold rules.

    Raises:
        ModelFileError: the checkpoint is missing or broken.
    """
    from draem_core.config import LossConfig, SynthConfig

    info = load_checkpoint(checkpoint, resolve_device(device))[2]
    s = dict(info.settings.get("train", {}))
    cfg = TrainConfig(**{**s, "synth": SynthConfig(**s.get("synth", {})), "loss": LossConfig(**s.get("loss", {})),
                         "crop": tuple(s["crop"]) if s.get("crop") else None,
                         "lr_milestones": tuple(s.get("lr_milestones", (0.8, 0.9))), "device": device})  # fmt: skip
    source = info.settings.get("anomaly_source") or None
    plan = TrainPlan(Path(info.settings.get("data", ".")), Path(out), info.model, cfg,
                     Path(source) if source else None, resume=Path(checkpoint), target_frr=target_frr)  # fmt: skip
    dev = resolve_device(device)
    run = _prepare(plan, dev)
    meta, extra = _finish(run.plan, run, run.start_step, run.start_elapsed, dev, _Rate())
    save_model(out, run.model, meta, extra=extra)
    return meta
