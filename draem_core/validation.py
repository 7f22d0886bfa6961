"""After training: choose the model's scoring and threshold on a validation split, never on test data.

The split is the run's held-out good images (never trained on) and synthetic anomalies made from them: textures
that training never drew from pasted in (procedural textures of another seed, or a folder given for the purpose),
and structural anomalies of kinds training never makes (:mod:`draem_core.structural`: a piece of the part moved,
a scratch, a wiped region), which keep the split from rating every scoring near 1.0.
Per-pixel statistics for the normalized scorings come from the training images' maps, so the held-out scores
that set the threshold stay unbiased. Each candidate scoring (:data:`CANDIDATES`) is scored on the split; the one
with the highest validation AUROC (good vs synthetic) wins, the paper's score on a tie. (Other pooling sizes as
candidates were tried and not kept: docs/benchmarks.md §8, "Pooling sizes as candidates".) The threshold is then set
at the plant's FRR target on the winner's held-out good scores (:mod:`draem_core.threshold`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from draem_core.calibration import Calibration
from draem_core.config import SynthConfig
from draem_core.metrics import auroc, escape_rate
from draem_core.model import DraemModel
from draem_core.processing import anomaly_map
from draem_core.scoring import PixelStats, Scoring, fit_pixel_stats, post_process
from draem_core.structural import KINDS, structural_anomaly
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank, procedural_textures
from draem_core.threshold import FRR_TARGET, TradeOff, calibrate_tradeoff, threshold_at

CANDIDATES = (
    Scoring("paper"),
    Scoring("topk"),
    Scoring("normalized-paper"),
    Scoring("normalized-topk"),
)  # evaluated in this order; the first of equal AUROC wins
VALIDATION_SEED = 7919  # seeds the held-out textures and the validation anomalies (never a training seed)
N_VALIDATION_TEXTURES = 32  # procedural textures of the held-out set
SYNTH_PER_IMAGE = 2  # texture anomalies made from each held-out good image (and one of each structural kind)
MAX_STAT_IMAGES = 200  # training images whose maps give the per-pixel statistics


@dataclass(frozen=True)
class Validated:
    """What :func:`choose_scoring` decided, with the evidence."""

    scoring: Scoring  # the chosen scoring (its ``validation`` holds every candidate's figures)
    stats: PixelStats | None  # per-pixel statistics (always fitted; stored only for normalized scorings)
    calibration: Calibration  # threshold at the FRR target on the chosen scoring
    tradeoff: TradeOff  # FRR against escapes on the validation split
    good_scores: np.ndarray  # held-out good images, chosen scoring
    synthetic_scores: np.ndarray  # synthetic anomalies, chosen scoring


@torch.inference_mode()
def probability_maps(model: DraemModel, images: torch.Tensor, batch: int = 8) -> torch.Tensor:
    """Probability maps ``(N, H, W)`` (CPU, float32) of uint8 or float images ``(N, 3, H, W)`` at model size."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, images.shape[0], batch):
        x = images[i : i + batch].to(dev).float()
        x = x / 255.0 if images.dtype == torch.uint8 else x
        out.append(anomaly_map(model(x).logits).float().cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros((0, *images.shape[-2:]))


def validation_textures(height: int, width: int, folder: Path | None, device: torch.device) -> TextureBank:
    """The held-out anomaly source: ``folder`` when given, else procedural textures of the validation seed."""
    if folder is not None:
        return TextureBank.load(height, width, folder, device, n_procedural=0, seed=VALIDATION_SEED)
    stack = np.stack(procedural_textures(N_VALIDATION_TEXTURES, height, width, seed=VALIDATION_SEED))
    return TextureBank(torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous().to(device))


def synthetic_anomalies(images: torch.Tensor, textures: TextureBank, synth: SynthConfig) -> torch.Tensor:
    """``SYNTH_PER_IMAGE`` anomalous copies of each uint8 image ``(N, 3, H, W)``; float in [0, 1], non-empty masks."""
    gen = torch.Generator(device=textures.textures.device).manual_seed(VALIDATION_SEED)
    maker = AnomalySynthesizer(textures, replace(synth, p_anomaly=1.0, p_rotate=0.0, p_self=0.0))
    out = []
    for _ in range(SYNTH_PER_IMAGE):
        for i in range(0, images.shape[0], 8):
            sb = maker(images[i : i + 8].to(textures.textures.device).float() / 255.0, gen)
            out.append(sb.augmented[sb.has_anomaly > 0].cpu())
    return torch.cat(out) if out else torch.zeros((0, *images.shape[1:]))


def validation_anomalies(
    images: torch.Tensor, textures: TextureBank, synth: SynthConfig
) -> tuple[torch.Tensor, tuple[str, ...]]:
    """The validation split's anomalies made from uint8 images ``(N, 3, H, W)``, float in [0, 1], and their kinds.

    :data:`SYNTH_PER_IMAGE` texture anomalies (``texture``) and one structural anomaly of each of
    :data:`draem_core.structural.KINDS` per image, all seeded with :data:`VALIDATION_SEED`.
    """
    textured = synthetic_anomalies(images, textures, synth)
    rng = np.random.default_rng(VALIDATION_SEED)
    host = images.permute(0, 2, 3, 1).cpu().numpy().astype(np.float32) / 255.0
    made = [structural_anomaly(img, kind, rng) for kind in KINDS for img in host]
    structural = torch.from_numpy(np.stack(made)).permute(0, 3, 1, 2) if made else textured[:0]
    kinds = ("texture",) * textured.shape[0] + tuple(kind for kind in KINDS for _ in host)
    return torch.cat([textured, structural.to(textured.dtype)]), kinds


def choose_scoring(
    model: DraemModel,
    train_images: torch.Tensor,
    holdout: torch.Tensor,
    synth: SynthConfig,
    texture_folder: Path | None = None,
    target_frr: float = FRR_TARGET,
) -> Validated:
    """Fit the statistics, score every candidate on the validation split, keep the best, set its threshold."""
    dev = next(model.parameters()).device
    stats = fit_pixel_stats(probability_maps(model, train_images[:MAX_STAT_IMAGES]))
    textures = validation_textures(holdout.shape[-2], holdout.shape[-1], texture_folder, dev)
    good_maps = probability_maps(model, holdout)
    anomalies, kinds = validation_anomalies(holdout, textures, synth)
    bad_maps = probability_maps(model, anomalies)
    chosen, good, bad = best_scoring(good_maps, bad_maps, kinds, stats, target_frr)
    calibration, tradeoff = calibrate_tradeoff(good, bad, None, target_frr)
    return Validated(chosen, stats, calibration, tradeoff, good, bad)


def best_scoring(
    good_maps: torch.Tensor,
    bad_maps: torch.Tensor,
    kinds: tuple[str, ...],
    stats: PixelStats,
    target_frr: float = FRR_TARGET,
    candidates: tuple[Scoring, ...] = CANDIDATES,
) -> tuple[Scoring, np.ndarray, np.ndarray]:
    """The first of ``candidates`` with the highest validation AUROC on good maps ``(N, H, W)`` against anomaly
    maps ``(M, H, W)`` of ``kinds``, its ``validation`` holding every candidate's figures (keyed by
    :attr:`Scoring.label`); and its good and anomaly scores."""
    figures, scores = {}, {}
    for cand in candidates:
        good, bad = (post_process(m, cand, stats)[1].numpy().astype(np.float64) for m in (good_maps, bad_maps))
        scores[cand.label] = (good, bad)
        figures[cand.label] = _figures(good, bad, target_frr, kinds)
    best = max(candidates, key=lambda c: figures[c.label]["auroc"])  # max keeps the first of equals
    good, bad = scores[best.label]
    chosen = replace(best, validation=figures, chosen_on=(
        f"highest AUROC of {len(candidates)} scorings on {good.size} held-out good images and {bad.size} synthetic "
        f"anomalies (held-out textures, {', '.join(KINDS)}; seed {VALIDATION_SEED})"))  # fmt: skip
    return chosen, good, bad


def _figures(good: np.ndarray, bad: np.ndarray, target_frr: float, kinds: tuple[str, ...]) -> dict:
    if good.size == 0 or bad.size == 0:
        return {"auroc": 0.0, "escape": None, "escape_by_kind": {}}
    threshold = threshold_at(good, target_frr)
    labels = np.asarray(kinds)
    by_kind = {k: round(escape_rate(bad[labels == k], threshold), 4) for k in dict.fromkeys(kinds)}
    return {"auroc": round(auroc(np.r_[np.zeros(good.size), np.ones(bad.size)], np.r_[good, bad]), 4),
            "escape": round(escape_rate(bad, threshold), 4), "escape_by_kind": by_kind}  # fmt: skip
