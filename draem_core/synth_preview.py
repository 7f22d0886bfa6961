"""A picture of what the training sees: normal images, synthetic anomalies and their masks in one grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from draem_core.config import SynthConfig
from draem_core.imageio import list_images, read_image, write_image_atomic
from draem_core.processing import frames_to_uint8, resize_to_model
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank, procedural_textures


def synth_grid(
    out: str | Path,
    n: int = 8,
    size: tuple[int, int] = (256, 256),
    anomaly_source: str | Path | None = None,
    images: str | Path | list[np.ndarray] | None = None,
    seed: int = 0,
) -> Path:
    """Write a grid with rows (normal, augmented, mask), ``n`` columns, as training sees them.

    Every column is drawn with an anomaly; where the Perlin mask came out empty (as happens in training too)
    the column shows the image unchanged.
    """
    normals = _normal_images(images, n, size, seed)
    textures = TextureBank.load(size[0], size[1], anomaly_source, seed=seed)
    synth = AnomalySynthesizer(textures, SynthConfig(p_anomaly=1.0))  # every column drawn with an anomaly
    gen = torch.Generator().manual_seed(seed)
    batch = synth(normals, gen)
    rows = [batch.target, batch.augmented, batch.mask.expand(-1, 3, -1, -1)]
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)  # (3, 3H, nW)
    array = (grid.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()
    return write_image_atomic(out, array)


def _normal_images(
    source: str | Path | list[np.ndarray] | None, n: int, size: tuple[int, int], seed: int
) -> torch.Tensor:
    if source is None:
        arrays = procedural_textures(n, size[0], size[1], seed=seed + 100)
    elif isinstance(source, list):
        arrays = source
    else:
        paths = list_images(source)
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(paths), size=min(n, len(paths)), replace=False) if paths else []
        arrays = [read_image(paths[i]) for i in picks]
        if not arrays:
            from draem_core.errors import DatasetError

            raise DatasetError(source, "no images (jpg/png/bmp/tif) found")
    arrays = [arrays[i % len(arrays)] for i in range(n)]
    return torch.cat([resize_to_model(t[None], size) for t in frames_to_uint8(arrays, "cpu")])
