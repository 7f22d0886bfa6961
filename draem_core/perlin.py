"""Batched Perlin noise masks on the training device (DRAEM.md §2 step 4).

Noise is generated on a power-of-two square grid that covers the image and then cropped, so any image size
works (the non-power-of-two failure of anomalib#490 cannot happen).
"""

from __future__ import annotations

import math

import torch

from draem_core.geometry import rotate


def _fade(t: torch.Tensor) -> torch.Tensor:
    return t * t * t * (t * (t * 6 - 15) + 10)  # quintic, as improved Perlin noise


def perlin_2d(
    size: int, res_y: int, res_x: int, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Single-octave gradient noise of shape ``(size, size)`` in about [-1, 1]; ``res`` cells per side."""
    angles = 2 * math.pi * torch.rand(res_y + 1, res_x + 1, generator=generator, device=device)
    grads = torch.stack([torch.cos(angles), torch.sin(angles)], dim=-1)  # (ry+1, rx+1, 2)
    ys = torch.arange(size, device=device, dtype=torch.float32) * (res_y / size)
    xs = torch.arange(size, device=device, dtype=torch.float32) * (res_x / size)
    cy, cx = ys.long(), xs.long()
    fy, fx = (ys - cy)[:, None], (xs - cx)[None, :]

    def corner(dy: int, dx: int) -> torch.Tensor:
        g = grads[(cy + dy)[:, None], (cx + dx)[None, :]]  # (size, size, 2)
        return g[..., 0] * (fx - dx) + g[..., 1] * (fy - dy)

    u, v = _fade(fx), _fade(fy)
    top = torch.lerp(corner(0, 0), corner(0, 1), u)
    bottom = torch.lerp(corner(1, 0), corner(1, 1), u)
    return math.sqrt(2) * torch.lerp(top, bottom, v)


def perlin_masks(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator,
    device: torch.device,
    min_exp: int = 0,
    max_exp: int = 5,
    threshold: float = 0.5,
    max_rotate_deg: float = 90.0,
) -> torch.Tensor:
    """Binary anomaly masks ``(B, 1, H, W)`` float: rotated Perlin noise above ``threshold``.

    Scales are ``2**k`` cells per side with k drawn independently for x and y from [min_exp, max_exp].
    """
    size = (
        1 << (max(height, width, 1 << max_exp) - 1).bit_length()
    )  # smallest power of two covering both sides
    exps = torch.randint(min_exp, max_exp + 1, (batch, 2), generator=generator, device=device).tolist()
    noise = torch.stack([perlin_2d(size, 1 << ey, 1 << ex, generator, device) for ey, ex in exps])[:, None]
    angles = (torch.rand(batch, generator=generator, device=device) * 2 - 1) * max_rotate_deg
    noise = rotate(noise, angles)
    top, left = (size - height) // 2, (size - width) // 2
    noise = noise[:, :, top : top + height, left : left + width]
    return (noise > threshold).float()
