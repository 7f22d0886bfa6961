"""Shared post-processing: the score's mean filter on the CPU (OpenCV) is the paper's avg_pool2d definition."""

import pytest
import torch
import torch.nn.functional as F

from draem_core.processing import SCORE_WINDOW, image_score, mean_filter


@pytest.mark.parametrize("shape", [(3, 256, 256), (2, 64, 96), (1, 12, 10)])
def test_cpu_mean_filter_equals_zero_padded_avg_pool(shape):
    maps = torch.rand(*shape, generator=torch.Generator().manual_seed(1))
    maps[0, :3, :3] = 1.0  # a bright corner: the zero padding must count in the mean
    w = SCORE_WINDOW
    reference = F.avg_pool2d(maps[:, None], w, stride=1, padding=w // 2, count_include_pad=True)[:, 0]
    assert torch.allclose(mean_filter(maps), reference, atol=1e-6)
    assert torch.allclose(image_score(maps), reference.flatten(1).amax(1), atol=1e-6)


def test_non_contiguous_maps_and_gradients():
    logits = torch.rand(2, 2, 40, 50).contiguous(memory_format=torch.channels_last)
    maps = torch.softmax(logits, 1)[:, 1]  # a strided view, as the torch backend's softmax gives
    reference = F.avg_pool2d(maps[:, None], 5, stride=1, padding=2, count_include_pad=True)[:, 0]
    assert torch.allclose(mean_filter(maps, 5), reference, atol=1e-6)
    grad_maps = maps.clone().requires_grad_()
    mean_filter(grad_maps, 5).sum().backward()  # the avg_pool2d path keeps gradients
    assert grad_maps.grad is not None
