"""Validation of a backend against torch: the same maps and scores within a tolerance, and for bf16/int8 the
same ability to tell good parts from (synthetic) defective ones.

fp32 runtimes are checked on seeded smooth random images: the arithmetic is the same, so any input exercises
it. bf16/int8 change the arithmetic, and what matters is how the product's good parts score, so they are
checked on good frames of the product and on the same frames with synthetic anomalies pasted in (the training
synthesiser's recipe), never on test images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from draem_core.backends.spec import Backend, Tolerance
from draem_core.config import SynthConfig
from draem_core.metrics import auroc
from draem_core.processing import frames_to_uint8, image_score, resize_to_model
from draem_core.region import RegionError
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank

PROBE_IMAGES = 4  # seeded random images of the fp32 check


@dataclass(frozen=True)
class Validation:
    """How a backend's outputs compared with torch's."""

    accepted: bool
    score_diff: float  # largest |raw score difference| of a good image
    map_mean_diff: float  # largest per-image mean |map difference| (defective copies included)
    map_max_diff: float  # largest |map difference| of any pixel (defective copies included)
    auroc_drop: float | None  # AUROC(torch) - AUROC(backend), good vs synthetic defects; None: not checked
    defect_score_diff: float | None  # largest |score difference| on the synthetic defects (for information)
    images: int  # validation images (defective copies included)
    reason: str = ""  # why it was refused

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict) -> Validation:
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__})


def model_inputs(inspector: object, frames: Sequence[np.ndarray]) -> torch.Tensor:
    """What the network sees of each frame (region, alignment, resize): float ``(N, 3, H, W)`` on the CPU.

    Frames whose region cannot be cut out (or aligned) are left out; the caller checks how many remain.
    """
    out = []
    for frame in frames:
        try:
            region = inspector.region(frame)  # type: ignore[attr-defined]
        except RegionError:
            continue
        out.append(resize_to_model(torch.stack(frames_to_uint8([region], "cpu")), inspector.size))  # type: ignore[attr-defined]
    h, w = inspector.size  # type: ignore[attr-defined]
    return torch.cat(out) if out else torch.zeros(0, 3, h, w)


def probe_inputs(size: tuple[int, int], n: int = PROBE_IMAGES, seed: int = 0) -> torch.Tensor:
    """Seeded smooth random images with fine grain: float ``(n, 3, H, W)`` in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 8, 8, generator=gen)
    smooth = F.interpolate(coarse, size=size, mode="bicubic", align_corners=False)
    return (smooth + 0.05 * torch.randn(n, 3, *size, generator=gen)).clamp(0, 1)


def with_synthetic_defects(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``images`` with one synthetic anomaly each (bundled textures, Perlin masks, no rotation)."""
    h, w = images.shape[-2:]
    synth = AnomalySynthesizer(TextureBank.load(h, w, seed=seed), SynthConfig(p_anomaly=1.0, p_rotate=0.0))
    return synth(images, torch.Generator().manual_seed(seed)).augmented.clamp(0, 1)


def _run(backend: Backend, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([backend.anomaly_maps(images[i : i + 1].to(backend.device)).float().cpu() for i in range(len(images))])


class Reference:
    """Torch's maps of validation images, computed once however many candidates are compared with them."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._maps: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id(images) -> (images, maps)
        self._defects: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id(good) -> (good, with defects)

    def maps(self, images: torch.Tensor) -> torch.Tensor:
        if id(images) not in self._maps:  # the images are kept, so their id is not reused
            self._maps[id(images)] = (images, _run(self.backend, images))
        return self._maps[id(images)][1]

    def defective(self, good: torch.Tensor) -> torch.Tensor:
        if id(good) not in self._defects:
            self._defects[id(good)] = (good, with_synthetic_defects(good))
        return self._defects[id(good)][1]


def compare(
    candidate: Backend, reference: Reference, good: torch.Tensor, tolerance: Tolerance, defects: bool = False
) -> Validation:
    """Run the candidate on ``good`` (and, with ``defects``, on copies with synthetic anomalies) and check the
    differences from torch's maps against ``tolerance``.

    The map tolerances hold on every image, the score tolerance on the good ones (it guards the false-reject
    rate); a defect's score is judged by ranking, the AUROC against the good images, since a defect far above
    the threshold may move more without another verdict.
    """
    ref, got = reference.maps(good), _run(candidate, good)
    result = Validation(True, _score_diff(ref, got), 0.0, 0.0, None, None, len(good))
    if defects:
        bad = reference.defective(good)
        ref_bad, got_bad = reference.maps(bad), _run(candidate, bad)
        labels = np.r_[np.zeros(len(good)), np.ones(len(bad))]
        drop = _auroc(labels, ref, ref_bad) - _auroc(labels, got, got_bad)
        result = replace(result, auroc_drop=drop, defect_score_diff=_score_diff(ref_bad, got_bad), images=2 * len(good))
        ref, got = torch.cat([ref, ref_bad]), torch.cat([got, got_bad])
    diff = (ref - got).abs().flatten(1)
    return _judge(replace(result, map_mean_diff=float(diff.mean(1).max()), map_max_diff=float(diff.max())), tolerance)


def _score_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((image_score(a) - image_score(b)).abs().max())


def _auroc(labels: np.ndarray, good_maps: torch.Tensor, bad_maps: torch.Tensor) -> float:
    return auroc(labels, torch.cat([image_score(good_maps), image_score(bad_maps)]).numpy())


def _judge(v: Validation, tol: Tolerance) -> Validation:
    checks = [("score", v.score_diff, tol.score), ("mean map", v.map_mean_diff, tol.map_mean),
              ("pixel", v.map_max_diff, tol.map_max), ("AUROC drop", v.auroc_drop, tol.auroc_drop)]  # fmt: skip
    failed = [f"{what} differs by {value:.4g} (tolerance {limit:g})" for what, value, limit in checks
              if value is not None and not value <= limit]  # fmt: skip
    if not failed:
        return v
    return replace(v, accepted=False, reason="outputs differ from torch: " + "; ".join(failed))
