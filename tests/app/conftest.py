"""Fixtures of the application tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from draem_core.imageio import write_image_atomic


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """Four random 160x96 frames in a folder (a folder source loops over them)."""
    folder = tmp_path / "frames"
    rng = np.random.default_rng(3)
    for i in range(4):
        write_image_atomic(folder / f"{i:02d}.png", rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    return folder
