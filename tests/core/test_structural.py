"""Structural anomalies of the validation split: local, visible, seeded, and refused for what they cannot make."""

import numpy as np
import pytest
import torch

from draem_core.config import SynthConfig
from draem_core.structural import KINDS, structural_anomaly
from draem_core.validation import SYNTH_PER_IMAGE, validation_anomalies, validation_textures


def _part(h=96, w=160, seed=0):
    """A textured part: smooth gradient plus fine noise, so every kind has something to move, cross or wipe."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = 0.3 + 0.4 * np.sin(6 * xx + 3 * yy)[..., None] * np.array([1.0, 0.8, 0.6])
    return np.clip(base + rng.normal(0, 0.05, (h, w, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_changes_one_local_region_and_stays_in_range(kind):
    image = _part()
    for seed in range(10):
        out = structural_anomaly(image, kind, np.random.default_rng(seed))
        assert out.shape == image.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        changed = np.abs(out - image).max(axis=2) > 0.02
        assert 0.001 < changed.mean() < 0.3, (kind, seed, changed.mean())  # visible, and a defect, not a new image
        assert image is not out and np.array_equal(image, _part())  # the input is left as it was


def test_cut_paste_copies_a_piece_of_the_image_itself():
    image = _part()
    out = structural_anomaly(image, "cut-paste", np.random.default_rng(3))
    ys, xs = np.nonzero(np.abs(out - image).max(axis=2) > 1e-6)
    patch = out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    ph, pw = patch.shape[:2]
    best = min(np.abs(patch / patch.mean() - image[y : y + ph, x : x + pw] / image[y : y + ph, x : x + pw].mean()).mean()
               for y in range(image.shape[0] - ph + 1) for x in range(image.shape[1] - pw + 1)
               if (y, x) != (ys.min(), xs.min()))  # fmt: skip
    assert best < 0.01  # the pasted rectangle is, up to its gain, another place of the same image


def test_seeded_and_refused_for_unknown_kinds_and_tiny_images():
    image = _part()
    a, b = (structural_anomaly(image, "scratch", np.random.default_rng(5)) for _ in range(2))
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="unknown structural anomaly 'dent'"):
        structural_anomaly(image, "dent", np.random.default_rng(0))
    with pytest.raises(ValueError, match="8x40 is too small"):
        structural_anomaly(image[:8, :40], "wipe", np.random.default_rng(0))


def test_the_validation_split_mixes_textures_and_every_structural_kind():
    images = torch.from_numpy(np.stack([_part(64, 96, s) for s in range(3)]) * 255).round().byte().permute(0, 3, 1, 2)
    textures = validation_textures(64, 96, None, torch.device("cpu"))
    anomalies, kinds = validation_anomalies(images, textures, SynthConfig())
    assert anomalies.shape[0] == len(kinds) and anomalies.shape[1:] == (3, 64, 96)
    assert kinds.count("texture") <= SYNTH_PER_IMAGE * 3 and all(kinds.count(k) == 3 for k in KINDS)
    again, _ = validation_anomalies(images, textures, SynthConfig())
    assert torch.equal(anomalies, again)  # the validation figures of a model are reproducible
