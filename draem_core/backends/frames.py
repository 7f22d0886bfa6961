"""Good frames of the product for a backend's int8 calibration and bf16/int8 validation, read from a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from draem_core.dataset import good_images
from draem_core.imageio import read_images

MAX_GOOD_FRAMES = 32  # frames read: half calibrate int8, half validate bf16/int8


def read_good_frames(folder: str | Path) -> tuple[tuple[np.ndarray, ...], list[tuple[str, str]]]:
    """The first :data:`MAX_GOOD_FRAMES` good images of ``folder`` (``train/good`` of an MVTec category, else every
    image under it) and what could not be read, as ``(path, reason)``.

    Raises:
        DatasetError: the folder is missing, cannot be read or has no images.
    """
    paths, skipped = good_images(folder)
    images, unreadable = read_images(paths[:MAX_GOOD_FRAMES])
    return tuple(images), [*skipped, *unreadable]
