"""DRAEM loss (DRAEM.md §3): L2 + (1 - SSIM) on the reconstruction, focal loss on the segmentation."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from draem_core.config import LossConfig


class LossTerms(NamedTuple):
    total: torch.Tensor
    l2: torch.Tensor
    ssim: torch.Tensor  # the 1 - SSIM term
    focal: torch.Tensor


def gaussian_window(
    size: int, sigma: float, channels: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of ``(B, C, H, W)`` images in [0, 1]: Gaussian window, per channel, zero padding."""
    c = a.shape[1]
    win = gaussian_window(window, sigma, c, a.device, a.dtype)
    pad = window // 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, win, padding=pad, groups=c)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).mean()


def focal_loss(logits: torch.Tensor, mask: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss on softmax probabilities, no class weighting, mean over pixels.

    Args:
        logits: ``(B, 2, H, W)``; channel 1 is "anomalous".
        mask: ``(B, 1, H, W)`` in {0, 1}.
    """
    log_p = F.log_softmax(logits.float(), dim=1)
    target = mask.long()
    log_pt = log_p.gather(1, target).squeeze(1)
    pt = log_pt.exp()
    return (-((1 - pt) ** gamma) * log_pt).mean()


def draem_loss(
    reconstruction: torch.Tensor,
    target: torch.Tensor,
    logits: torch.Tensor,
    mask: torch.Tensor,
    config: LossConfig | None = None,
) -> LossTerms:
    cfg = config or LossConfig()
    rec, tgt = reconstruction.float(), target.float()
    l2 = F.mse_loss(rec, tgt)
    ssim_term = 1 - ssim(rec, tgt, cfg.ssim_window, cfg.ssim_sigma)
    focal = focal_loss(logits, mask, cfg.focal_gamma)
    total = cfg.w_l2 * l2 + cfg.w_ssim * ssim_term + cfg.w_focal * focal
    return LossTerms(total, l2, ssim_term, focal)
