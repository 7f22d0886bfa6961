"""Anomaly synthesis (DRAEM.md §2): batched, on the training device, seeded with a torch.Generator."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from draem_core.augment import augment_textures
from draem_core.config import SynthConfig
from draem_core.geometry import rotate
from draem_core.perlin import perlin_masks
from draem_core.textures import TextureBank

SELF_MIN_CONTRAST = 0.05  # mean |difference| under the mask a self-paste needs, else the texture is pasted


class SynthBatch(NamedTuple):
    augmented: torch.Tensor  # (B, 3, H, W) network input, anomalies pasted in
    target: torch.Tensor  # (B, 3, H, W) the normal image (reconstruction target)
    mask: torch.Tensor  # (B, 1, H, W) 1 where an anomaly was pasted
    has_anomaly: torch.Tensor  # (B,) 1.0 when the mask is non-empty


class AnomalySynthesizer:
    """Turns normal images into (augmented, target, mask) training triples."""

    def __init__(self, textures: TextureBank, config: SynthConfig | None = None) -> None:
        self.textures = textures
        self.config = config or SynthConfig()

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> SynthBatch:
        """Synthesise anomalies on ``images (B, 3, H, W)`` float in [0, 1]."""
        cfg, gen = self.config, generator
        b, _, h, w = images.shape
        dev = images.device
        do_rot = torch.rand(b, generator=gen, device=dev) < cfg.p_rotate
        angles = (torch.rand(b, generator=gen, device=dev) * 2 - 1) * cfg.max_rotate_deg
        target = torch.where(do_rot[:, None, None, None], rotate(images, angles * do_rot), images)

        texture = self.textures.sample(b, gen).to(dev)
        if texture.shape[-2:] != (h, w):
            texture = F.interpolate(texture, size=(h, w), mode="bilinear", align_corners=False)
        texture = augment_textures(texture, gen, cfg.n_augment)
        mask = perlin_masks(b, h, w, gen, dev, cfg.perlin_min_exp, cfg.perlin_max_exp,
                            cfg.perlin_threshold, cfg.max_rotate_deg)  # fmt: skip
        if cfg.p_self > 0:  # drawn only when asked, so the paper's recipe keeps its random stream
            own = torch.rand(b, generator=gen, device=dev) < cfg.p_self
            moved = shifted_copies(target, gen)
            own &= visible(moved, target, mask)  # background pasted on background teaches nothing: a texture then
            texture = torch.where(own[:, None, None, None], moved, texture)
        anomalous = torch.rand(b, generator=gen, device=dev) >= 1 - cfg.p_anomaly
        mask = mask * anomalous[:, None, None, None].to(mask.dtype)
        beta = torch.rand(b, 1, 1, 1, generator=gen, device=dev) * cfg.beta_max
        augmented = (1 - mask) * target + (1 - beta) * mask * texture + beta * mask * target
        has_anomaly = (mask.flatten(1).sum(1) > 0).to(images.dtype)
        return SynthBatch(augmented, target, mask, has_anomaly)


def shifted_copies(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image ``(B, 3, H, W)`` moved by a random offset (a quarter to three quarters of each side, wrapping
    round) and its brightness scaled by 0.85-1.15: pasted under a Perlin mask it puts a piece of the part's own
    structure where it does not belong (a cut, a hole, a misplaced component) in the part's own colours, a defect
    the texture paste does not make (docs/benchmarks.md §8, "Self-paste")."""
    b, _, h, w = images.shape
    dev = images.device
    dy = torch.randint(h // 4, h - h // 4 + 1, (b,), generator=generator, device=dev).tolist()
    dx = torch.randint(w // 4, w - w // 4 + 1, (b,), generator=generator, device=dev).tolist()
    gain = 0.85 + 0.3 * torch.rand(b, 1, 1, 1, generator=generator, device=dev)
    moved = torch.stack([torch.roll(im, (y, x), dims=(1, 2)) for im, y, x in zip(images, dy, dx, strict=True)])
    return (moved * gain).clamp(0.0, 1.0)


def visible(pasted: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` True where ``pasted`` differs from ``target`` under ``mask`` ``(B, 1, H, W)`` by at least
    :data:`SELF_MIN_CONTRAST` on average (an empty mask is not visible)."""
    area = mask.flatten(1).sum(1)
    diff = ((pasted - target).abs().mean(1, keepdim=True) * mask).flatten(1).sum(1)
    return diff >= SELF_MIN_CONTRAST * area.clamp_min(1.0)
