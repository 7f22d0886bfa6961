"""Parameter and compute counts of a model config (torch's own FLOP counter, on the meta device: no memory)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from draem_core.config import ModelConfig
from draem_core.model import DraemModel, count_parameters


def model_info(config: ModelConfig) -> dict:
    """``params`` and ``gflops`` (per image at the config's input size) plus the split per sub-network."""
    with torch.device("meta"):
        model = DraemModel(config).eval()
        x = torch.empty(1, 3, config.image_height, config.image_width)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    flops = counter.get_total_flops()
    by_module = counter.get_flop_counts()
    rec = sum(by_module.get("DraemModel.reconstructive", {}).values())
    return {
        "preset": config.preset,
        "size": [config.image_height, config.image_width],
        "params": count_parameters(model),
        "params_reconstructive": count_parameters(model.reconstructive),
        "params_discriminative": count_parameters(model.discriminative),
        "gflops": round(flops / 1e9, 2),
        "gflops_reconstructive_share": round(rec / flops, 3) if flops else 0.0,
    }
