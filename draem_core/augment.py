"""The ten texture augmentations of the reference recipe, batched on tensors in [0, 1] (DRAEM.md §2 step 3).

Each takes ``x (N, 3, H, W)`` and a ``torch.Generator`` and draws its parameters per image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from draem_core.geometry import rotate

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(
    shape: tuple[int, ...], lo: float, hi: float, x: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=x.device, dtype=x.dtype)


def gamma_contrast(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    gamma = _uniform((x.shape[0], 3, 1, 1), 0.5, 2.0, x, gen)  # per channel
    return x.clamp_min(1e-6) ** gamma


def brightness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    mul = _uniform((x.shape[0], 1, 1, 1), 0.8, 1.2, x, gen)
    add = _uniform((x.shape[0], 1, 1, 1), -30 / 255, 30 / 255, x, gen)
    return (x * mul + add).clamp(0, 1)


def sharpness(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    kernel = torch.ones(3, 1, 3, 3, device=x.device, dtype=x.dtype)
    kernel[:, :, 1, 1] = 5.0
    smooth = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel / 13.0, groups=3)
    factor = _uniform((x.shape[0], 1, 1, 1), 0.0, 2.0, x, gen)
    return (smooth + factor * (x - smooth)).clamp(0, 1)


_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def hue_saturation(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Hue rotation by up to ±50/255 of a turn and a saturation change, in YIQ space."""
    n = x.shape[0]
    rgb2yiq = _RGB2YIQ.to(x.device, x.dtype)
    yiq2rgb = torch.linalg.inv(rgb2yiq)
    angle = _uniform((n,), -50 / 255, 50 / 255, x, gen) * 2 * torch.pi
    sat = 1.0 + _uniform((n,), -50 / 255, 50 / 255, x, gen) * 2
    cos, sin, one, zero = (
        torch.cos(angle) * sat,
        torch.sin(angle) * sat,
        torch.ones_like(angle),
        torch.zeros_like(angle),
    )
    rot = torch.stack([torch.stack([one, zero, zero], -1), torch.stack([zero, cos, -sin], -1),
                       torch.stack([zero, sin, cos], -1)], dim=1)  # fmt: skip
    mat = yiq2rgb @ rot @ rgb2yiq  # (N, 3, 3)
    return torch.einsum("nij,njhw->nihw", mat, x).clamp(0, 1)


def solarize(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    threshold = _uniform((n, 1, 1, 1), 32 / 255, 128 / 255, x, gen)
    apply = (torch.rand((n, 1, 1, 1), generator=gen, device=x.device) < 0.5).to(x.dtype)  # p 0.5
    solar = torch.where(x >= threshold, 1 - x, x)
    return apply * solar + (1 - apply) * x


def posterize(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    bits = torch.randint(1, 9, (x.shape[0], 1, 1, 1), generator=gen, device=x.device)
    step = (2.0 ** (8 - bits)).to(x.dtype)
    return torch.floor(torch.round(x * 255) / step) * step / 255


def invert(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return 1 - x


def autocontrast(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    cutoff = _uniform((n, 1), 0.0, 0.2, x, gen) / 2  # cut half from each end
    flat = x.flatten(2).float()  # (N, 3, HW)
    sorted_vals = flat.sort(dim=2).values
    count = flat.shape[2]
    lo_idx = (cutoff * (count - 1)).long().expand(n, 3)[..., None]
    hi_idx = ((1 - cutoff) * (count - 1)).long().expand(n, 3)[..., None]
    lo = sorted_vals.gather(2, lo_idx)[..., None].to(x.dtype)
    hi = sorted_vals.gather(2, hi_idx)[..., None].to(x.dtype)
    return ((x - lo) / (hi - lo).clamp_min(1 / 255)).clamp(0, 1)


def equalize(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n, c = x.shape[:2]
    idx = (x * 255).round().long().clamp(0, 255).flatten(2).reshape(n * c, -1)
    hist = torch.zeros(n * c, 256, device=x.device).scatter_add_(
        1, idx, torch.ones_like(idx, dtype=torch.float32)
    )
    cdf = hist.cumsum(1)
    cdf_min = torch.where(hist > 0, cdf, torch.full_like(cdf, float("inf"))).min(1, keepdim=True).values
    lut = ((cdf - cdf_min) / (cdf[:, -1:] - cdf_min).clamp_min(1)).clamp(0, 1)
    return lut.gather(1, idx).reshape(x.shape).to(x.dtype)


def rotate45(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return rotate(x, _uniform((x.shape[0],), -45.0, 45.0, x, gen))


AUGMENTATIONS: tuple[Augment, ...] = (
    gamma_contrast, brightness, sharpness, hue_saturation, solarize,
    posterize, invert, autocontrast, equalize, rotate45,
)  # fmt: skip


def augment_textures(x: torch.Tensor, gen: torch.Generator, n_ops: int = 3) -> torch.Tensor:
    """Apply ``n_ops`` distinct augmentations per image, in a random order per image."""
    n = x.shape[0]
    order = torch.rand(n, len(AUGMENTATIONS), generator=gen, device=x.device).argsort(dim=1)[:, :n_ops]
    x = x.clone()
    for r in range(n_ops):
        for k, aug in enumerate(AUGMENTATIONS):
            sel = (order[:, r] == k).nonzero().flatten()
            if sel.numel():
                x[sel] = aug(x[sel], gen)
    return x
