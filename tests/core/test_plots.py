"""Plots and contact sheets are written as real image files of the expected size."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from draem_core import plots


def _read(path: Path) -> np.ndarray:
    assert path.stat().st_size > 1000
    image = cv2.imread(str(path))
    assert image is not None
    return image


def test_roc_and_histogram_are_readable_pngs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good, defect = rng.normal(0.2, 0.05, 50), rng.normal(0.6, 0.1, 20)
    labels = np.r_[np.zeros(50), np.ones(20)]
    roc = _read(plots.plot_roc(labels, np.r_[good, defect], tmp_path / "roc.png"))
    hist = _read(plots.plot_score_histogram(good, defect, 0.35, tmp_path / "sub" / "hist.png"))
    only_good = _read(plots.plot_score_histogram(good, None, 0.35, tmp_path / "good.png"))
    for image in (roc, hist, only_good):
        assert 300 <= image.shape[0] <= 800 and 400 <= image.shape[1] <= 1000
        assert image.std() > 10  # something is drawn, not a blank canvas
    assert list(tmp_path.glob("**/*.tmp")) == []  # atomic writes leave no temp files


def test_contact_sheet_grid_worst_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    items = [(image, np.full((30, 40), level), f"part {level}") for level in (0.1, 0.9, 0.5)]
    sheet = _read(plots.contact_sheet(items, tmp_path / "sheet.png", columns=2))
    tile_h = plots.TILE + plots.TITLE_HEIGHT
    tile_w = round(plots.TILE * 120 / 90)  # tiles follow the images' 4:3 aspect
    assert sheet.shape == (2 * tile_h, 2 * tile_w, 3)
    # The first tile (top left) must be the worst item (map 0.9, red); the third tile the best (blue).
    centre = (plots.TITLE_HEIGHT + plots.TILE // 2, tile_w // 2)
    first, third = sheet[centre].astype(int), sheet[centre[0] + tile_h, centre[1]].astype(int)
    assert first[2] > first[0]  # BGR: red dominates in the worst tile
    assert third[0] > third[2]  # blue dominates in the best tile
    assert (sheet[tile_h + 5 :, tile_w + 5 :] == 255).all()  # the unused fourth cell is blank


def test_contact_sheet_needs_items(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        plots.contact_sheet([], tmp_path / "x.png")
