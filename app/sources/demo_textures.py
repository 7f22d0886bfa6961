"""The CC0 texture images the demo line draws its conveyor belt and its contamination from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from draem_core.errors import DatasetError, ImageReadError
from draem_core.imageio import list_images, read_image, to_uint8_rgb
from draem_core.resources import resources_dir

DEFAULT_TEXTURE_DIR = resources_dir() / "textures"
MAX_TEXTURE_SIDE = 384  # textures are downscaled to this: defects use small patches, the belt a fine grain
BELT_TEXTURE = "gravel"  # file stem of the texture used for the rubber belt (first texture if absent)


@dataclass(frozen=True)
class TextureBank:
    """Texture images as float32 ``(H, W, 3)`` RGB in 0..1, keyed by file stem (sorted)."""

    images: dict[str, np.ndarray]

    @property
    def names(self) -> list[str]:
        """Texture names in a fixed order, so random picks are reproducible."""
        return sorted(self.images)

    def belt(self) -> np.ndarray:
        """The texture for the conveyor belt."""
        return self.images.get(BELT_TEXTURE, self.images[self.names[0]])

    def patch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """A random ``(size, size, 3)`` crop of a random texture, rescaled when the texture is smaller."""
        image = self.images[self.names[int(rng.integers(len(self.images)))]]
        h, w = image.shape[:2]
        side = int(min(h, w, max(size, rng.integers(size, 3 * size + 1))))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = image[y : y + side, x : x + side]
        return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def load_textures(folder: str | Path | None = None) -> TextureBank:
    """Read every image in ``folder`` (default: the bundled CC0 textures).

    Raises:
        DatasetError: the folder is missing or holds no readable image.
    """
    folder = Path(folder) if folder is not None else DEFAULT_TEXTURE_DIR
    if not folder.is_dir():
        raise DatasetError(folder, "texture folder not found (the demo line needs its CC0 texture images)")
    images: dict[str, np.ndarray] = {}
    for path in list_images(folder, recursive=False):
        try:
            images[path.stem] = _prepare(read_image(path))
        except ImageReadError:
            continue  # one bad texture must not stop the demo; the rest still give variety
    if not images:
        raise DatasetError(folder, "no readable texture images (.png/.jpg) in the texture folder")
    return TextureBank(images)


def _prepare(image: np.ndarray) -> np.ndarray:
    rgb = to_uint8_rgb(image)
    scale = MAX_TEXTURE_SIDE / max(rgb.shape[:2])
    if scale < 1.0:
        rgb = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32) / 255.0
