"""Frozen configurations: model presets, anomaly synthesis, loss and training schedule."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of both sub-networks (DRAEM.md §1). Stored in every model file."""

    preset: str = "paper"  # name of the preset this came from
    rec_width: int = 128  # base width w of the reconstructive encoder-decoder (paper: 128)
    disc_width: int = 64  # base width b of the discriminative U-Net (paper: 64)
    image_height: int = 256  # model input height (multiple of 32); frames are resized to it
    image_width: int = 256  # model input width (multiple of 32)

    def with_size(self, height: int, width: int) -> ModelConfig:
        return ModelConfig(self.preset, self.rec_width, self.disc_width, _round32(height), _round32(width))

    def to_dict(self) -> dict:
        return asdict(self)


def _round32(n: int) -> int:
    return max(32, int(round(n / 32)) * 32)


PRESETS: dict[str, ModelConfig] = {
    # The paper's network: 97,422,725 parameters, ~396 GFLOP per 256x256 image. Needs a GPU.
    "paper": ModelConfig("paper", 128, 64),
    # Half width: ~24 M parameters, for mid-range GPUs.
    "half": ModelConfig("half", 64, 32),
    # Quarter width: ~6.1 M parameters; trains on a CPU in about an hour.
    "compact": ModelConfig("compact", 32, 16),
    # Eighth width: ~1.5 M parameters; live inspection on a 2-core CPU, demo model, tests.
    "tiny": ModelConfig("tiny", 16, 8),
    # Reconstruction kept tiny, detector at compact width: the CPU retraining preset.
    "cpu": ModelConfig("cpu", 16, 16),
    # Smallest useful network, for tests only.
    "micro": ModelConfig("micro", 4, 4),
}


def preset(name: str, size: int | tuple[int, int] | None = None) -> ModelConfig:
    """The named preset, optionally at another input size (``N`` or ``(H, W)``, rounded to multiples of 32)."""
    from draem_core.errors import DraemError

    if name not in PRESETS:
        msg = f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}"
        raise DraemError(msg)
    cfg = PRESETS[name]
    if size is None:
        return cfg
    h, w = (size, size) if isinstance(size, int) else size
    return cfg.with_size(h, w)


@dataclass(frozen=True)
class SynthConfig:
    """Anomaly synthesis (DRAEM.md §2, the reference-code recipe)."""

    p_anomaly: float = 0.5  # probability that a training image gets a synthetic anomaly
    p_rotate: float = 0.0  # probability of rotating the normal image (reference 0.3; off: a fixed camera does not turn parts)
    max_rotate_deg: float = 90.0  # normal-image rotation drawn from U(-max, max)
    perlin_min_exp: int = 0  # Perlin scale 2**k, k drawn from [min_exp, max_exp] for x and y independently
    perlin_max_exp: int = 5
    perlin_threshold: float = 0.5  # mask = noise > threshold
    beta_max: float = 0.8  # beta ~ U(0, beta_max); texture opacity is 1 - beta
    n_augment: int = 3  # distinct texture augmentations drawn out of the ten
    p_self: float = 0.0  # share of anomalies that paste the image itself, shifted, instead of a texture (0 = the paper)


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and SSIM/focal parameters (DRAEM.md §3)."""

    ssim_window: int = 11
    ssim_sigma: float = 1.5
    focal_gamma: float = 2.0
    w_l2: float = 1.0
    w_ssim: float = 1.0
    w_focal: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Training schedule. Exactly one of steps / epochs / minutes sets the budget."""

    steps: int | None = None  # optimiser steps
    epochs: int | None = None  # passes over the training images (steps = ceil(n / batch) * epochs)
    minutes: float | None = None  # wall-clock budget; LR drops follow elapsed time
    batch_size: int = 8
    # Train on random (H, W) windows of the images at model size instead of whole images: small defects keep
    # their pixels at a high model size while a step costs what the crop costs. None = whole images.
    crop: tuple[int, int] | None = None
    lr: float = 1e-4  # Adam, both networks
    lr_milestones: tuple[float, ...] = (0.8, 0.9)  # fractions of the budget where LR is multiplied by gamma
    lr_gamma: float = 0.2
    holdout_fraction: float = 0.1  # share of good images kept back for calibration
    min_holdout: int = 4  # at least this many held-out images when there are enough
    checkpoint_every: int = 500  # steps between checkpoints (also written on cancel and at the end)
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    # NHWC (channels_last) weights and activations on the CPU: oneDNN's convolutions of these small-channel
    # networks take about a third less CPU time per step than in NCHW (docs/benchmarks.md §10). CUDA: unchanged.
    channels_last: bool = True
    synth: SynthConfig = field(default_factory=SynthConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    def budget_kind(self) -> str:
        given = [k for k in ("steps", "epochs", "minutes") if getattr(self, k) is not None]
        if len(given) != 1:
            from draem_core.errors import DraemError

            msg = "give exactly one training budget: steps, epochs or minutes"
            raise DraemError(msg)
        return given[0]
