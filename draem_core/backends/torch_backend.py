"""The PyTorch backend: the network in eager mode, on the CPU or a CUDA GPU (the reference the others match)."""

from __future__ import annotations

import contextlib

import torch

from draem_core.backends.spec import BackendSpec
from draem_core.model import DraemModel
from draem_core.processing import anomaly_map


class TorchBackend:
    """Eager PyTorch. CUDA: bf16 autocast, cuDNN autotune. Both devices: channels_last memory layout.

    Args:
        model: The network (moved to ``device`` and put in eval mode, in place).
        device: Where it runs.
        channels_last: NHWC activations. On the CPU, oneDNN's convolutions of this small-channel network take
            about 40 % less time in NHWC than in NCHW (docs/benchmarks.md §10); False gives the pre-backend path.
    """

    spec = BackendSpec("torch")

    def __init__(self, model: DraemModel, device: torch.device, channels_last: bool = True) -> None:
        self.device = device
        self.info: dict = {}  # how it was chosen (auto)
        self.channels_last = channels_last
        self.model = model.to(device).eval()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def anomaly_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, H, W)`` float in [0, 1] at model size -> maps ``(B, H, W)`` float32."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            logits = self.model(x).logits
        return anomaly_map(logits).contiguous()
