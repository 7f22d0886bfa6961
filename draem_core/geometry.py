"""Small batched geometric helpers on tensors."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def rotate(images: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image ``(B, C, H, W)`` about its centre by ``degrees`` ``(B,)``; bilinear, black fill."""
    rad = degrees.float() * (math.pi / 180.0)
    cos, sin = torch.cos(rad), torch.sin(rad)
    h, w = images.shape[-2:]
    aspect = h / w  # affine_grid works in normalised coordinates; correct for non-square images
    zeros = torch.zeros_like(cos)
    theta = torch.stack(
        [torch.stack([cos, -sin * aspect, zeros], -1), torch.stack([sin / aspect, cos, zeros], -1)], dim=1
    )
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def pad_to_multiple(x: torch.Tensor, multiple: int = 32) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad ``(B, C, H, W)`` on the bottom/right by reflection to multiples of ``multiple``; returns (H, W)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)
