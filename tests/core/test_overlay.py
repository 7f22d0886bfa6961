"""The heatmap overlay keeps the image where the map is low and colours it where the map is high."""

from __future__ import annotations

import numpy as np
import pytest

from draem_core.overlay import heatmap_overlay


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)  # texture, so "kept" is checkable
    amap = np.zeros((64, 96), dtype=np.float32)
    amap[:, 48:] = 1.0
    return image, amap


def test_low_map_keeps_the_image_blended_with_one_colour() -> None:
    image, amap = _scene()
    out = heatmap_overlay(image, amap, alpha=0.5).astype(np.int32)
    # Where the map is 0: out = 0.5 * image + 0.5 * colour(0); the image texture survives, shifted by a constant.
    residual = out[:, :48] - (image[:, :48].astype(np.int32) // 2)
    assert residual.reshape(-1, 3).std(axis=0).max() < 1.0
    low = residual.reshape(-1, 3).mean(axis=0) * 2
    assert low[2] > low[0] and low.sum() < 200  # the low colour is a dark blue (TURBO at 0)


def test_high_map_is_coloured_red_and_alpha_zero_is_identity() -> None:
    image, amap = _scene()
    out = heatmap_overlay(image, amap, alpha=0.5).astype(np.int32)
    high = ((out[:, 48:] - image[:, 48:].astype(np.int32) // 2) * 2).reshape(-1, 3).mean(axis=0)
    assert high[0] > high[2] + 50  # the high colour is red
    np.testing.assert_array_equal(heatmap_overlay(image, amap, alpha=0.0), image)


def test_threshold_draws_the_region_outline() -> None:
    image = np.full((64, 64, 3), 100, dtype=np.uint8)
    amap = np.zeros((64, 64), dtype=np.float32)
    amap[20:40, 20:40] = 0.9
    plain = heatmap_overlay(image, amap)
    outlined = heatmap_overlay(image, amap, threshold=0.5)
    white = np.all(outlined == 255, axis=2)
    assert white[18:42, 18:42].sum() > 60  # about the 4 x 20 pixel outline
    assert white.sum() == white[18:42, 18:42].sum() and not white[24:36, 24:36].any()  # only on the edge
    assert not np.all(plain == 255, axis=2).any()
    changed = np.any(plain != outlined, axis=2)
    assert not changed[:10].any() and not changed[26:34, 26:34].any()  # far away and inside: untouched


def test_map_at_model_size_is_resized_and_inputs_are_checked() -> None:
    image = np.zeros((120, 80), dtype=np.uint8)  # mono input is accepted
    out = heatmap_overlay(image, np.ones((32, 32)))
    assert out.shape == (120, 80, 3) and out.dtype == np.uint8
    with pytest.raises(ValueError, match="alpha"):
        heatmap_overlay(image, np.ones((32, 32)), alpha=2)
    with pytest.raises(ValueError, match="shape"):
        heatmap_overlay(image, np.ones((2, 32, 32)))
