"""Anomaly sources: texture images from a folder (recursive) plus procedural textures."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from draem_core.errors import DatasetError
from draem_core.imageio import list_images, read_images, to_uint8_rgb
from draem_core.resources import resources_dir

DEFAULT_TEXTURE_DIR = resources_dir() / "textures"


def procedural_textures(n: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` RGB uint8 textures: coloured smooth noise, stripes, speckle and blobs (no files needed)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = i % 4
        if kind == 0:  # smooth coloured noise at a random scale
            small = rng.random((rng.integers(4, 32), rng.integers(4, 32), 3)).astype(np.float32)
            tex = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
        elif kind == 1:  # oriented stripes
            yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
            angle, period = rng.uniform(0, np.pi), rng.uniform(4, 40)
            wave = 0.5 + 0.5 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
            tex = wave[..., None] * rng.random(3) + (1 - wave[..., None]) * rng.random(3)
        elif kind == 2:  # speckle
            tex = rng.random((height, width, 3)).astype(np.float32)
            tex = cv2.GaussianBlur(tex, (0, 0), rng.uniform(0.5, 2.0))
        else:  # random blobs
            tex = np.zeros((height, width, 3), np.float32) + rng.random(3)
            for _ in range(rng.integers(10, 60)):
                centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
                radius = int(rng.integers(2, max(3, min(height, width) // 6)))
                cv2.circle(tex, centre, radius, rng.random(3).tolist(), -1)
        out.append(np.clip(tex * 255, 0, 255).astype(np.uint8))
    return out


class TextureBank:
    """Anomaly-source textures held as one uint8 tensor ``(N, 3, H, W)`` on the training device."""

    def __init__(self, textures: torch.Tensor, skipped: list[tuple[Path, str]] | None = None) -> None:
        self.textures = textures
        self.skipped = skipped or []

    @classmethod
    def load(
        cls,
        height: int,
        width: int,
        folder: str | Path | None = None,
        device: torch.device | str = "cpu",
        n_procedural: int = 16,
        seed: int = 0,
    ) -> TextureBank:
        """Textures from ``folder`` (default: the bundled CC0 textures) resized to (height, width).

        Raises:
            DatasetError: a folder was given but holds no readable image.
        """
        explicit = folder is not None
        folder = Path(folder) if explicit else DEFAULT_TEXTURE_DIR
        paths = list_images(folder) if folder.is_dir() else []
        if explicit and not folder.is_dir():
            raise DatasetError(folder, "anomaly-source folder does not exist")
        images, skipped = read_images(paths)
        if explicit and not images:
            raise DatasetError(folder, "anomaly-source folder has no readable images (jpg/png/bmp/tif)")
        resized = [
            cv2.resize(to_uint8_rgb(im), (width, height), interpolation=cv2.INTER_AREA) for im in images
        ]
        if not explicit:
            resized += procedural_textures(n_procedural, height, width, seed)
        stack = torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).contiguous()
        return cls(stack.to(device), skipped)

    def __len__(self) -> int:
        return self.textures.shape[0]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` random textures as float ``(n, 3, H, W)`` in [0, 1]."""
        idx = torch.randint(0, len(self), (n,), generator=generator, device=generator.device)
        return self.textures[idx.to(self.textures.device)].float() / 255.0
