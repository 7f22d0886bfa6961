import torch

from draem_core.augment import AUGMENTATIONS, augment_textures
from draem_core.perlin import perlin_masks
from draem_core.synthesis import AnomalySynthesizer
from draem_core.textures import TextureBank


def _synth(h=64, w=96):
    return AnomalySynthesizer(TextureBank.load(h, w, n_procedural=8))


def test_probability_of_normal_samples_is_one_half():
    synth = _synth()
    gen = torch.Generator().manual_seed(0)
    flags = torch.cat([synth(torch.rand(16, 3, 64, 96), gen).has_anomaly for _ in range(16)])
    # p(anomaly branch) = 0.5; an empty Perlin mask occasionally makes it normal too
    assert 0.35 < flags.mean().item() < 0.55


def test_mask_coverage_and_where_pixels_change():
    synth = _synth()
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(32, 3, 64, 96)
    b = synth(images, gen)
    covered = b.mask[b.has_anomaly > 0].mean().item()
    assert 0.03 < covered < 0.6  # Perlin > 0.5 covers a minority of the image
    outside = (b.augmented - b.target).abs() * (1 - b.mask)
    assert outside.max().item() == 0.0  # nothing changes outside the mask
    inside = ((b.augmented - b.target).abs().sum(1, keepdim=True) * b.mask).sum() / b.mask.sum()
    assert inside > 0.02  # the texture is visible where pasted
    assert torch.all(b.mask[b.has_anomaly == 0] == 0)


def test_same_seed_same_batch_and_different_seed_differs():
    synth = _synth()
    images = torch.rand(8, 3, 64, 96)
    a = synth(images, torch.Generator().manual_seed(5))
    b = synth(images, torch.Generator().manual_seed(5))
    c = synth(images, torch.Generator().manual_seed(6))
    assert torch.equal(a.augmented, b.augmented) and torch.equal(a.mask, b.mask)
    assert not torch.equal(a.mask, c.mask)


def test_perlin_masks_for_odd_sizes():
    gen = torch.Generator().manual_seed(0)
    m = perlin_masks(6, 45, 173, gen, torch.device("cpu"))
    assert m.shape == (6, 1, 45, 173)
    assert set(m.unique().tolist()) <= {0.0, 1.0}


def test_every_augmentation_keeps_range_and_changes_images():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 32, 32) * 0.5 + 0.25
    for aug in AUGMENTATIONS:
        y = aug(x, gen)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1, aug.__name__
    assert not torch.equal(augment_textures(x, gen), x)
