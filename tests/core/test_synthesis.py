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


def test_self_paste_puts_the_images_own_shifted_structure_under_the_mask():
    from dataclasses import replace

    from draem_core.config import SynthConfig

    blue = torch.zeros(4, 3, 64, 96, dtype=torch.uint8)
    blue[:, 2] = 255  # every texture pure blue: a texture paste shows as blue, a self-paste cannot
    grey = torch.rand(8, 1, 64, 96).expand(8, 3, 64, 96).contiguous()
    cfg = SynthConfig(p_anomaly=1.0, n_augment=0)  # textures as they are
    paper = AnomalySynthesizer(TextureBank(blue), cfg)
    own = AnomalySynthesizer(TextureBank(blue), replace(cfg, p_self=1.0))
    a = paper(grey, torch.Generator().manual_seed(3))
    b = own(grey, torch.Generator().manual_seed(3))
    assert b.has_anomaly.sum() > 0 and torch.equal(b.target, grey)
    assert ((a.augmented[:, 2] - a.augmented[:, 0]) * a.mask[:, 0]).max() > 0.3  # blue where textures went
    assert torch.allclose(b.augmented[:, 2], b.augmented[:, 0]) and torch.allclose(b.augmented[:, 1], b.augmented[:, 0])
    inside = ((b.augmented - b.target).abs().sum(1, keepdim=True) * b.mask).sum() / b.mask.sum()
    assert inside > 0.02  # the shifted copy differs from what it covers
    assert torch.equal(b.augmented * (1 - b.mask), b.target * (1 - b.mask))  # nothing outside the mask


def test_shifted_copies_move_each_image_by_a_quarter_to_three_quarters_and_scale_it():
    from draem_core.synthesis import shifted_copies

    images = torch.rand(6, 3, 40, 64) * 0.8
    out = shifted_copies(images, torch.Generator().manual_seed(0))
    for im, moved in zip(images, out, strict=True):
        found = [(y, x) for y in range(40) for x in range(64)
                 if torch.allclose(moved / torch.roll(im, (y, x), dims=(1, 2)), moved[0, 0, 0] / torch.roll(
                     im, (y, x), dims=(1, 2))[0, 0, 0], atol=1e-4)]  # fmt: skip
        assert len(found) == 1
        (y, x), gain = found[0], (moved[0, 0, 0] / torch.roll(im, found[0], dims=(1, 2))[0, 0, 0]).item()
        assert 10 <= y <= 30 and 16 <= x <= 48 and 0.85 <= gain <= 1.15


def test_a_self_paste_that_would_not_show_falls_back_to_a_texture():
    from dataclasses import replace

    from draem_core.config import SynthConfig

    blue = torch.zeros(4, 3, 64, 96, dtype=torch.uint8)
    blue[:, 2] = 255
    flat = torch.full((8, 3, 64, 96), 0.2)  # a shifted, ±15 % copy of a flat dark image: at most 0.03 off
    own = AnomalySynthesizer(TextureBank(blue), replace(SynthConfig(p_anomaly=1.0, n_augment=0), p_self=1.0))
    b = own(flat, torch.Generator().manual_seed(3))
    shown = b.has_anomaly > 0
    assert shown.sum() > 0
    blueness = ((b.augmented[:, 2] - b.augmented[:, 0]) * b.mask[:, 0]).flatten(1).amax(1)
    assert torch.all(blueness[shown] > 0.1)  # every anomaly is the texture's


def test_visible_compares_the_mean_difference_under_the_mask():
    from draem_core.synthesis import SELF_MIN_CONTRAST, visible

    target = torch.zeros(3, 3, 8, 8)
    mask = torch.zeros(3, 1, 8, 8)
    mask[:2, :, :4] = 1.0
    pasted = target.clone()
    pasted[0] += 2 * SELF_MIN_CONTRAST  # shows
    pasted[1] += 0.5 * SELF_MIN_CONTRAST  # too faint
    pasted[2] += 1.0  # different, but the mask is empty
    assert visible(pasted, target, mask).tolist() == [True, False, False]
