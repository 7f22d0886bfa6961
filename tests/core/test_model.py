import pytest
import torch

from draem_core.config import PRESETS, preset
from draem_core.flops import model_info
from draem_core.model import DraemModel, count_parameters

EXPECTED_PARAMS = {"paper": 97_422_725, "compact": 6_101_093, "tiny": 1_529_333, "cpu": 2_861_381}


@pytest.mark.parametrize("name", list(EXPECTED_PARAMS))
def test_parameter_counts(name):
    with torch.device("meta"):
        model = DraemModel(PRESETS[name])
    assert count_parameters(model) == EXPECTED_PARAMS[name]


def test_paper_subnetworks_match_the_specification():
    with torch.device("meta"):
        model = DraemModel(PRESETS["paper"])
    assert count_parameters(model.reconstructive) == 69_048_579
    assert count_parameters(model.discriminative) == 28_374_146


def test_paper_compute_is_396_gflop_at_256():
    info = model_info(PRESETS["paper"])
    assert info["gflops"] == pytest.approx(396, rel=0.01)
    assert info["gflops_reconstructive_share"] == pytest.approx(0.81, abs=0.01)


@pytest.mark.parametrize("hw", [(64, 64), (70, 130), (33, 97)])
def test_any_input_size_gives_outputs_at_that_size(hw):
    model = DraemModel(PRESETS["micro"]).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, *hw))
    assert out.reconstruction.shape == (2, 3, *hw)
    assert out.logits.shape == (2, 2, *hw)


def test_preset_size_rounds_to_multiples_of_32():
    cfg = preset("tiny", (150, 380))
    assert (cfg.image_height, cfg.image_width) == (160, 384)


def test_reference_initialisation():
    model = DraemModel(PRESETS["tiny"])
    conv = model.discriminative.encoder[3][0]
    bn = model.discriminative.encoder[3][1]
    assert abs(conv.weight.std().item() - 0.02) < 0.003
    assert abs(bn.weight.mean().item() - 1.0) < 0.01
    assert torch.all(bn.bias == 0)
