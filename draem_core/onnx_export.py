"""ONNX export: the network plus post-processing, so the graph returns the anomaly map and the raw score."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from draem_core.backends.graph import export_graph
from draem_core.imageio import write_bytes_atomic
from draem_core.modelfile import load_model_parts
from draem_core.processing import anomaly_map
from draem_core.scoring import PixelStats, Scoring, post_process


class _Exported(nn.Module):
    def __init__(self, model: nn.Module, scoring: Scoring, stats: PixelStats | None) -> None:
        super().__init__()
        self.model, self.scoring, self.stats = model, scoring, stats

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return post_process(anomaly_map(self.model(x).logits), self.scoring, self.stats)


def export_onnx(model_path: str | Path, out: str | Path, opset: int = 17) -> Path:
    """Export ``model_path`` to ONNX: input ``image (B, 3, H, W)`` float in [0, 1] at the model size, RGB;
    outputs ``anomaly_map (B, H, W)`` and ``score (B,)``. Written atomically.

    Raises:
        DraemError: the ``onnx`` package is missing or the export failed.
    """
    model, meta, extra = load_model_parts(model_path, "cpu")
    size = (meta.model.image_height, meta.model.image_width)
    scoring, stats = Scoring.from_dict(meta.scoring), PixelStats.from_tensors(extra, size)
    x = torch.rand(1, 3, *size)
    out = Path(out)
    staged = out.with_name(f".{out.name}.staged")
    try:
        module = _Exported(model, scoring, stats)
        export_graph(module, x, staged, ["anomaly_map", "score"], f"ONNX export of {model_path}", opset)
        write_bytes_atomic(out, staged.read_bytes())
    finally:
        staged.unlink(missing_ok=True)
    return out
