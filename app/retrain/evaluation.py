"""Checking a new model before it is deployed, against the deployed one, on the same images.

Both models score: the held-out good images of the new run (never trained on), synthetic defects made from
those images as the training's validation split makes them (textures training never drew from, and structural
defects: :mod:`draem_core.structural`), and the images the engineer marked defective. From the scores
come the expected false-reject rate (good parts rejected) and escape rates (defects passed) at any
threshold, which the Evaluate page shows while the engineer drags the threshold line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from draem_core.alignment import Aligner
from draem_core.checkpoint import checkpoint_path
from draem_core.config import SynthConfig
from draem_core.errors import DatasetError, DraemError
from draem_core.imageio import to_uint8_rgb
from draem_core.inspector import Inspector
from draem_core.metrics import auroc, escape_rate, false_reject_rate
from draem_core.modelfile import read_file
from draem_core.overlay import heatmap_overlay
from draem_core.processing import frames_to_uint8
from draem_core.region import Roi, as_roi, describe_roi
from draem_core.structural import KINDS
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank
from draem_core.training_data import load_training_images
from draem_core.validation import validation_anomalies, validation_textures
from draem_core.version import CHECKPOINT_FORMAT, MODEL_FORMAT

EXAMPLES = 4  # overlays shown per group (worst good, hardest defects)
MIN_SYNTHETIC = 16  # at least this many synthetic defects, cycling through the good images


@dataclass(frozen=True)
class Example:
    """One image shown on the Evaluate page: its overlay and score."""

    title: str  # file name or "synthetic #k"
    score: float  # raw image score
    overlay: np.ndarray = field(repr=False)  # (H, W, 3) uint8 RGB heatmap overlay at model size


@dataclass(frozen=True)
class Rates:
    """What a threshold would do on the evaluation images."""

    threshold: float  # raw threshold
    false_reject: float  # share of good images at or above it
    escape_synthetic: float  # share of synthetic defects below it
    escape_real: float | None  # share of marked real defects below it; None without any


@dataclass(frozen=True)
class ModelScores:
    """Scores of one model on the evaluation images."""

    label: str  # "new" or "deployed"
    path: Path  # the model file
    threshold: float  # the model's calibrated raw threshold
    good: np.ndarray = field(repr=False)  # (G,) raw scores of the held-out good images
    synthetic: np.ndarray = field(repr=False)  # (S,) raw scores of the synthetic defects
    real: np.ndarray = field(repr=False)  # (R,) raw scores of the images marked defective
    worst_good: tuple[Example, ...] = field(
        repr=False
    )  # highest-scored good images (the false rejects to come)
    hardest_defects: tuple[Example, ...] = field(repr=False)  # lowest-scored defects (the escapes to come)
    roi: Roi | None = None  # the model's own inspection region (None = whole frame)

    def rates(self, threshold: float | None = None) -> Rates:
        """Rates at ``threshold`` (default: the model's own)."""
        t = self.threshold if threshold is None else float(threshold)
        real = escape_rate(self.real, t) if self.real.size else None
        return Rates(t, false_reject_rate(self.good, t), escape_rate(self.synthetic, t), real)

    def auroc(self) -> float | None:
        """Separation of good images from all defects (1.0 = perfect), None without both."""
        defects = np.concatenate([self.synthetic, self.real])
        if not self.good.size or not defects.size:
            return None
        labels = np.r_[np.zeros(self.good.size), np.ones(defects.size)]
        return auroc(labels, np.r_[self.good, defects])

    def metrics(self, threshold: float | None = None) -> dict:
        """JSON-safe numbers for the model registry."""
        r = self.rates(threshold)
        return {"threshold": r.threshold, "false_reject": r.false_reject, "escape_synthetic": r.escape_synthetic,
                "escape_real": r.escape_real, "auroc": self.auroc(), "n_good": int(self.good.size),
                "n_synthetic": int(self.synthetic.size), "n_real": int(self.real.size)}  # fmt: skip


@dataclass(frozen=True)
class EvalImages:
    """The images both models are scored on, at the new model's input size."""

    good: list[tuple[str, np.ndarray]] = field(repr=False)  # (name, (H, W, 3) uint8) held-out good images
    synthetic: list[tuple[str, np.ndarray]] = field(repr=False)  # synthetic defects made from them
    real: list[tuple[str, np.ndarray]] = field(repr=False)  # images marked defective
    note: str  # caveat shown to the engineer ("" when none)


def holdout_paths(model_path: Path) -> list[Path]:
    """The held-out good images of the run that wrote ``model_path`` (from its final checkpoint)."""
    ckpt = checkpoint_path(model_path)
    try:
        _, doc = read_file(ckpt, CHECKPOINT_FORMAT)
    except DraemError:
        return []
    return [Path(p) for p in doc.get("holdout_images", [])]


def synthetic_defects(
    images: torch.Tensor, anomaly_source: Path | None, seed: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paste one synthetic anomaly into each image (those whose mask came out empty are dropped).

    Args:
        images: ``(N, 3, H, W)`` uint8 good images at model size.
        anomaly_source: texture folder; None = the bundled textures.
        seed: seeds the synthesis.

    Returns:
        ``(M, 3, H, W)`` uint8 images and ``(M, H, W)`` bool masks, ``M <= N``.
    """
    h, w = images.shape[-2:]
    bank = TextureBank.load(h, w, anomaly_source, seed=seed)
    synth = AnomalySynthesizer(bank, replace(SynthConfig(), p_anomaly=1.0, p_rotate=0.0))
    batch = synth(images.float() / 255.0, torch.Generator().manual_seed(seed))
    keep = batch.has_anomaly > 0
    return (batch.augmented[keep] * 255).round().byte(), batch.mask[keep, 0] > 0


def _enough_synthetic(good: torch.Tensor) -> torch.Tensor:
    """The training's validation anomalies made from ``good`` (uint8): textures training never drew from and the
    structural kinds (:func:`draem_core.validation.validation_anomalies`), at least MIN_SYNTHETIC of them (the
    images are used again, each time with other anomalies, when there are few)."""
    per_image = len(KINDS) + 1  # one of each structural kind, and at least one texture paste in most draws
    repeats = max(1, -(-MIN_SYNTHETIC // max(1, len(good) * per_image)))
    images = good.repeat(repeats, 1, 1, 1)
    made, _ = validation_anomalies(images, validation_textures(*good.shape[-2:], None, torch.device("cpu")),
                                   SynthConfig())  # fmt: skip
    return (made * 255).round().byte()


def to_hwc(images: torch.Tensor) -> list[np.ndarray]:
    """``(N, 3, H, W)`` uint8 tensor -> list of ``(H, W, 3)`` uint8 arrays."""
    return [np.ascontiguousarray(x.permute(1, 2, 0).numpy()) for x in images]


def evaluation_images(model_path: Path, good_fallback: list[Path], defect_paths: list[Path],
                      size: tuple[int, int], roi: Roi | None = None, aligner: Aligner | None = None) -> EvalImages:  # fmt: skip
    """Load the held-out images of the run (cropped to the model's inspection region ``roi``, aligned to its
    reference part when it has one), make synthetic defects, load the marked defects."""
    good_paths, note = holdout_paths(model_path), ""
    if not good_paths:
        good_paths = good_fallback
        note = "No images were held out (too few): good scores are on training images and look too good."
    good, _ = load_training_images(good_paths, [], size, roi, aligner)
    if not len(good.train):
        raise DatasetError(model_path.parent, "none of the held-out good images can be read")
    synth = _enough_synthetic(good.train)
    real, _ = load_training_images(defect_paths, [], size, roi, aligner)
    return EvalImages(
        good=list(zip([p.name for p in good.train_paths], to_hwc(good.train), strict=True)),
        synthetic=[(f"synthetic #{i + 1}", im) for i, im in enumerate(to_hwc(synth))],
        real=list(zip([p.name for p in real.train_paths], to_hwc(real.train), strict=True)),
        note=note,
    )


def score_model(path: Path, label: str, images: EvalImages, device: str = "cpu",
                should_stop: Callable[[], bool] = lambda: False) -> ModelScores:  # fmt: skip
    """Score every evaluation image with the model in ``path``."""
    inspector = Inspector.from_file(path, device)
    groups = {}
    for key in ("good", "synthetic", "real"):
        if should_stop():
            raise DraemError("evaluation cancelled")
        groups[key] = [(name, im, *_score(inspector, im)) for name, im in getattr(images, key)]
    worst = sorted(groups["good"], key=lambda g: -g[3])[:EXAMPLES]
    hardest = sorted(groups["real"] + groups["synthetic"], key=lambda g: g[3])[:EXAMPLES]
    return ModelScores(
        label=label, path=Path(path), threshold=float(inspector.threshold),
        good=np.array([g[3] for g in groups["good"]]), synthetic=np.array([g[3] for g in groups["synthetic"]]),
        real=np.array([g[3] for g in groups["real"]]),
        worst_good=tuple(_example(g) for g in worst),
        hardest_defects=tuple(_example(g) for g in hardest), roi=inspector.model_roi,
    )  # fmt: skip


def _score(inspector: Inspector, image: np.ndarray) -> tuple[np.ndarray, float]:
    maps, scores = inspector.predict_tensor(frames_to_uint8([image], inspector.device)[0][None])
    return maps[0].float().cpu().numpy(), float(scores[0])


def _example(group: tuple) -> Example:
    name, image, amap, score = group
    return Example(name, score, heatmap_overlay(to_uint8_rgb(image), amap, alpha=0.4, threshold=0.5))


@dataclass(frozen=True)
class Comparison:
    """The new model and (when there is one) the deployed model, scored on the same images."""

    new: ModelScores
    deployed: ModelScores | None
    note: str  # caveats ("" when none)


def compare(new_model: Path, deployed_model: Path | None, good_fallback: list[Path], defect_paths: list[Path],
            device: str = "cpu",
            should_stop: Callable[[], bool] = lambda: False) -> Iterator[str | Comparison]:  # fmt: skip
    """Evaluate; yields progress lines, then the :class:`Comparison` (run it off the GUI thread)."""
    _, doc = read_file(new_model, MODEL_FORMAT)
    size = (int(doc["model"]["image_height"]), int(doc["model"]["image_width"]))
    roi = as_roi(doc.get("roi"))
    aligner = Aligner.from_dict(doc["alignment"]) if doc.get("alignment") else None
    yield "loading held-out images and making synthetic defects"
    images = evaluation_images(Path(new_model), good_fallback, defect_paths, size, roi, aligner)
    yield f"scoring {len(images.good)} good, {len(images.synthetic)} synthetic and {len(images.real)} real defect images"
    new = score_model(Path(new_model), "new", images, device, should_stop)
    deployed, note = None, images.note
    if deployed_model is not None:
        yield "scoring the same images with the deployed model"
        try:
            deployed = score_model(Path(deployed_model), "deployed", images, device, should_stop)
            if deployed.roi != roi:
                where = describe_roi(deployed.roi) if deployed.roi else "the whole frame"
                note = (
                    f"{note} The deployed model inspects {where}; both were scored on the new model's "
                    "region, so the deployed model's scores are not what it gives on the line."
                ).strip()
        except DraemError as exc:
            note = f"{note} The deployed model could not be scored: {exc}".strip()
    yield Comparison(new, deployed, note)
