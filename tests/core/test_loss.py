import torch

from draem_core.loss import draem_loss, focal_loss, ssim


def test_false_positive_on_all_normal_target_costs_something():
    """The kornia alpha=1 pitfall (anomalib#2529): predicting 'anomalous' on a normal pixel must cost."""
    mask = torch.zeros(1, 1, 8, 8)
    confident_false_positive = torch.zeros(1, 2, 8, 8)
    confident_false_positive[:, 1] = 5.0  # logit of 'anomalous' far above 'normal'
    correct = torch.zeros(1, 2, 8, 8)
    correct[:, 0] = 5.0
    fp_loss = focal_loss(confident_false_positive, mask)
    assert fp_loss > 1.0
    assert focal_loss(correct, mask) < 1e-3 < fp_loss


def test_focal_downweights_easy_pixels_with_gamma_2():
    mask = torch.ones(1, 1, 1, 1)
    logits = torch.tensor([[[[0.0]], [[1.0]]]])  # p(anomalous) = 0.731
    p = torch.sigmoid(torch.tensor(1.0))
    expected = -((1 - p) ** 2) * torch.log(p)
    assert torch.isclose(focal_loss(logits, mask), expected, atol=1e-6)


def test_ssim_is_one_for_identical_and_lower_for_noise():
    a = torch.rand(2, 3, 32, 32)
    assert torch.isclose(ssim(a, a), torch.tensor(1.0), atol=1e-5)
    assert ssim(a, (a + 0.3 * torch.randn_like(a)).clamp(0, 1)) < 0.8


def test_total_is_the_sum_of_terms():
    rec, tgt = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    logits, mask = torch.randn(2, 2, 32, 32), (torch.rand(2, 1, 32, 32) > 0.9).float()
    t = draem_loss(rec, tgt, logits, mask)
    assert torch.isclose(t.total, t.l2 + t.ssim + t.focal)
    assert t.l2 > 0 and t.ssim > 0 and t.focal > 0
