"""From anomaly map to image score: the paper's score and the fixed-camera scores chosen on validation data.

Every path that turns maps into scores (the Inspector, training's calibration, evaluation, an inference backend
such as ONNX Runtime) calls :func:`post_process` with the model's :class:`Scoring`, so one rule holds everywhere.

Scores (``Scoring.method``):

- ``paper``: the maximum of the ``window``² mean-filtered probability map (DRAEM.md §5). Old model files carry no
  scoring and use this, unchanged.
- ``topk``: the mean of the highest ``topk`` share of the map's pixels. Pools more of a defect than the largest
  window does of a long thin one, and ignores a single hot window less.
- ``normalized-paper`` / ``normalized-topk``: each pixel's probability is first turned into how unusual it is *at
  that pixel* over good images: ``z = (p - mean) / std`` with ``mean`` and ``std`` per pixel (smoothed, ``std``
  floored) from the maps of the training images; the map becomes ``softplus(z) / (softplus(z) + Z_HALF)`` (in
  (0, 1), monotonic, never saturating in float32: a pixel :data:`Z_HALF` standard deviations above its usual
  level shows 0.5, 30 of them 0.75). On a fixed-camera line a marking or an edge that lights up on every good part
  stops dominating the score. A part is never in exactly the same place, so a pixel's usual level and spread are
  the largest within :data:`SHIFT_TOLERANCE` of the short side around it: an edge that moves a few pixels
  between parts is not a defect (docs/benchmarks.md §8, third round: on six real-data models the false rejects
  fell on three and rose on none). The statistics are two ``(H, W)`` float32 tensors stored in the model file
  (``scoring.mean``, ``scoring.std``), next to the JSON description (``ModelMetadata.scoring``).

Which one a model uses is chosen after training on a validation split (held-out good images and synthetic
anomalies made from textures never used in training): :mod:`draem_core.validation`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F

from draem_core.processing import SCORE_WINDOW, image_score

METHODS = ("paper", "topk", "normalized-paper", "normalized-topk")
STAT_KEYS = ("scoring.mean", "scoring.std")  # tensor names in the model file
STD_FLOOR_QUANTILE = 0.5  # per-pixel std is at least this quantile of the std map (few good images are noisy)
STAT_BLUR_SIGMA = 2.0  # Gaussian smoothing (pixels, model resolution) of the mean and std maps: small shifts
TOPK_SHARE = 0.01  # default share of pixels averaged by the top-k score
Z_HALF = 10.0  # standard scores above the usual level at which a normalized map shows 0.5
SHIFT_TOLERANCE = 0.02  # share of the short side a part may shift between frames (fixture play) and stay normal


@dataclass(frozen=True)
class Scoring:
    """How a model turns maps into scores; stored in the model file's metadata (``scoring``)."""

    method: str = "paper"  # one of METHODS
    window: int = SCORE_WINDOW  # mean-filter size of the paper score (odd, >= 1)
    topk: float = TOPK_SHARE  # share of pixels averaged by the top-k scores, in (0, 1]
    chosen_on: str = ""  # one line: how the method was chosen (validation split, candidates)
    validation: dict | None = None  # per candidate: validation AUROC and escape rate (JSON numbers)

    @property
    def normalized(self) -> bool:
        return self.method.startswith("normalized")

    @property
    def label(self) -> str:
        """The method with the parameter it uses, e.g. ``paper w21`` or ``normalized-topk 1%``: the key of the
        candidate's figures in ``validation``."""
        if self.method.endswith("topk"):
            return f"{self.method} {self.topk * 100:g}%"
        return f"{self.method} w{self.window}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Scoring:
        """From :meth:`to_dict` output (unknown keys ignored); None gives the paper score.

        Raises:
            ValueError: an unknown method, an even or non-positive window, or a share outside (0, 1].
        """
        if not data:
            return cls()
        names = cls.__dataclass_fields__
        scoring = cls(**{k: v for k, v in data.items() if k in names})
        scoring.check()
        return scoring

    def check(self) -> None:
        """Raises ValueError when a field is out of its bounds (see the class fields)."""
        if self.method not in METHODS:
            msg = f"unknown scoring method {self.method!r}; one of {', '.join(METHODS)}"
            raise ValueError(msg)
        if not isinstance(self.window, int) or self.window < 1 or self.window % 2 == 0:
            msg = f"scoring window {self.window!r} is not an odd positive integer"
            raise ValueError(msg)
        if not 0.0 < float(self.topk) <= 1.0:
            msg = f"scoring top-k share {self.topk!r} is not inside (0, 1]"
            raise ValueError(msg)


@dataclass(frozen=True)
class PixelStats:
    """Per-pixel mean and std ``(H, W)`` of good images' probability maps at model resolution."""

    mean: torch.Tensor
    std: torch.Tensor

    def to(self, device: torch.device | str) -> PixelStats:
        return PixelStats(self.mean.to(device), self.std.to(device))

    def tensors(self) -> dict[str, torch.Tensor]:
        return dict(zip(STAT_KEYS, (self.mean.float().cpu(), self.std.float().cpu()), strict=True))

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], size: tuple[int, int]) -> PixelStats | None:
        """The statistics stored in a model file, or None when it has none.

        Raises:
            ValueError: only one of the two tensors, a shape other than ``size`` or non-finite values.
        """
        found = [k for k in STAT_KEYS if k in tensors]
        if not found:
            return None
        if len(found) != len(STAT_KEYS):
            msg = f"scoring statistics incomplete (only {found[0]})"
            raise ValueError(msg)
        mean, std = (tensors[k].float() for k in STAT_KEYS)
        if tuple(mean.shape) != tuple(size) or tuple(std.shape) != tuple(size):
            msg = f"scoring statistics are {tuple(mean.shape)}, the model input is {tuple(size)}"
            raise ValueError(msg)
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            msg = "scoring statistics hold non-finite or non-positive values"
            raise ValueError(msg)
        return cls(mean, std)


def fit_pixel_stats(maps: torch.Tensor) -> PixelStats:
    """Per-pixel statistics of good images' maps ``(N, H, W)``: a blurred mean, and the blurred mean squared
    deviation *from that blurred mean* as variance (so the edges of a bright structure, where blurring moves the
    mean, get a wide spread instead of a false alarm), both then the largest within :func:`shift_radius` pixels
    (a structure that moves that far between parts stays normal), the std floored."""
    maps = maps.float()
    mean = _blur(maps.mean(0))
    std = _blur(((maps - mean) ** 2).mean(0)).sqrt()
    radius = shift_radius(maps.shape[-2:])
    mean, std = _max_filter(mean, radius), _max_filter(std, radius)
    floor = torch.quantile(std.flatten(), STD_FLOOR_QUANTILE).clamp_min(1e-4)
    return PixelStats(mean, std.clamp_min(floor))


def shift_radius(size: tuple[int, int] | torch.Size) -> int:
    """Pixels a part may shift between frames, at model ``size``: :data:`SHIFT_TOLERANCE` of the short side."""
    return max(1, round(SHIFT_TOLERANCE * min(int(size[0]), int(size[1]))))


def _max_filter(image: torch.Tensor, radius: int) -> torch.Tensor:
    return F.max_pool2d(image[None, None], 2 * radius + 1, stride=1, padding=radius)[0, 0]


def _blur(image: torch.Tensor, sigma: float = STAT_BLUR_SIGMA) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=image.device)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    k = k / k.sum()
    padded = F.pad(image[None, None], (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(F.conv2d(padded, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return out[0, 0]


def normalize_maps(maps: torch.Tensor, stats: PixelStats) -> torch.Tensor:
    """``(B, H, W)`` probabilities -> ``softplus(z) / (softplus(z) + Z_HALF)``, ``z`` the per-pixel standard score.

    Unseen good images reach z of 10-30 where the training images' maps were uniformly low (a sigmoid of z then
    saturates at 1.0 and the threshold loses all resolution), hence a slowly saturating squash.
    """
    soft = F.softplus((maps.float() - stats.mean) / stats.std)
    return soft / (soft + Z_HALF)


def topk_score(maps: torch.Tensor, share: float) -> torch.Tensor:
    """Mean of the highest ``share`` of each map's pixels: ``(B, H, W)`` -> ``(B,)``."""
    flat = maps.flatten(1)
    k = max(1, int(round(share * flat.shape[1])))
    return flat.topk(k, dim=1).values.mean(dim=1)


def post_process(
    maps: torch.Tensor, scoring: Scoring | None = None, stats: PixelStats | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The maps to show and the image scores, ``(B, H, W)`` -> ``((B, H, W), (B,))``, both in [0, 1].

    Args:
        maps: probability maps (:func:`draem_core.processing.anomaly_map`) at model resolution.
        scoring: the model's scoring; None = the paper score.
        stats: per-pixel statistics, needed by the normalized methods.

    Raises:
        ValueError: a normalized method without statistics.
    """
    scoring = scoring or Scoring()
    if scoring.normalized:
        if stats is None:
            msg = f"scoring {scoring.method} needs per-pixel statistics, and the model has none"
            raise ValueError(msg)
        maps = normalize_maps(maps, stats.to(maps.device))
    if scoring.method.endswith("topk"):
        return maps, topk_score(maps, scoring.topk)
    return maps, image_score(maps, scoring.window)
