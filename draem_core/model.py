"""The two DRAEM sub-networks (DRAEM.md §1). Only nn.Modules live here."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from draem_core.config import ModelConfig
from draem_core.geometry import pad_to_multiple


class DraemOutput(NamedTuple):
    """What the model returns. Softmax, map and score belong to post-processing."""

    reconstruction: torch.Tensor  # (B, 3, H, W)
    logits: torch.Tensor  # (B, 2, H, W); channel 1 = anomalous


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def double_conv(cin: int, mid: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*conv_bn_relu(cin, mid), *conv_bn_relu(mid, cout))


def up_conv(cin: int, cout: int) -> nn.Sequential:
    """Bilinear ×2 (align_corners=True, as the reference) followed by one conv."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), *conv_bn_relu(cin, cout)
    )


class ReconstructiveNet(nn.Module):
    """Encoder-decoder without skip connections: (B, 3, H, W) -> (B, 3, H, W)."""

    def __init__(self, width: int = 128) -> None:
        super().__init__()
        w = width
        chans = [(3, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w), (8 * w, 8 * w)]
        self.encoder = nn.ModuleList(double_conv(a, b, b) for a, b in chans)
        stages = [(8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w), (w, w)]
        self.ups = nn.ModuleList(up_conv(c, c) for c, _ in stages)
        self.decoder = nn.ModuleList(double_conv(c, c, out) for c, out in stages)
        self.head = nn.Conv2d(w, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.encoder):
            x = block(F.max_pool2d(x, 2) if i else x)
        for up, block in zip(self.ups, self.decoder, strict=True):
            x = block(up(x))
        return self.head(x)


class DiscriminativeNet(nn.Module):
    """U-Net with five skip concatenations: (B, 6, H, W) -> logits (B, 2, H, W)."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        b = width
        chans = [(6, b), (b, 2 * b), (2 * b, 4 * b), (4 * b, 8 * b), (8 * b, 8 * b), (8 * b, 8 * b)]
        self.encoder = nn.ModuleList(double_conv(a, c, c) for a, c in chans)
        # (up in, up out, skip channels, out) per decoder stage, deepest first
        stages = [(8 * b, 8 * b, 8 * b, 8 * b), (8 * b, 4 * b, 8 * b, 4 * b), (4 * b, 2 * b, 4 * b, 2 * b),
                  (2 * b, b, 2 * b, b), (b, b, b, b)]  # fmt: skip
        self.ups = nn.ModuleList(up_conv(cin, cup) for cin, cup, _, _ in stages)
        self.decoder = nn.ModuleList(double_conv(cup + skip, out, out) for _, cup, skip, out in stages)
        self.head = nn.Conv2d(b, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        skips.pop()  # the bottleneck is not concatenated
        for up, block in zip(self.ups, self.decoder, strict=True):
            x = block(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


class DraemModel(nn.Module):
    """Reconstructive + discriminative networks (DRAEM.md §1)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.reconstructive = ReconstructiveNet(config.rec_width)
        self.discriminative = DiscriminativeNet(config.disc_width)
        self.apply(_reference_init)

    def forward(self, x: torch.Tensor) -> DraemOutput:
        """``x (B, 3, H, W)`` in [0, 1], any size: padded to multiples of 32, outputs cropped back to (H, W)."""
        x, (h, w) = pad_to_multiple(x, 32)
        rec = self.reconstructive(x)
        logits = self.discriminative(torch.cat([rec, x], dim=1))  # reconstruction first, as the reference
        return DraemOutput(rec[..., :h, :w], logits[..., :h, :w])


def _reference_init(module: nn.Module) -> None:
    """Conv weights N(0, 0.02), BatchNorm gamma N(1, 0.02) and beta 0 (the reference initialisation)."""
    if isinstance(module, nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
