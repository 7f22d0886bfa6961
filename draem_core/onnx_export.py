"""ONNX export: the network plus post-processing, so the graph returns the anomaly map and the raw score."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from draem_core.errors import DraemError
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
    outputs ``anomaly_map (B, H, W)`` and ``score (B,)``. Written atomically."""
    from draem_core.imageio import write_bytes_atomic

    model, meta, extra = load_model_parts(model_path, "cpu")
    size = (meta.model.image_height, meta.model.image_width)
    scoring, stats = Scoring.from_dict(meta.scoring), PixelStats.from_tensors(extra, size)
    x = torch.rand(1, 3, *size)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        torch.onnx.export(_Exported(model, scoring, stats).eval(), (x,), str(tmp), input_names=["image"],
                          output_names=["anomaly_map", "score"], opset_version=opset,
                          dynamic_axes={"image": {0: "batch"}, "anomaly_map": {0: "batch"}, "score": {0: "batch"}},
                          dynamo=False)  # fmt: skip
        write_bytes_atomic(out, tmp.read_bytes())
    except ModuleNotFoundError as exc:
        raise DraemError(f"ONNX export needs the '{exc.name}' package: pip install onnx") from exc
    except RuntimeError as exc:
        raise DraemError(f"ONNX export of {model_path} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out
