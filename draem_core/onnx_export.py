"""ONNX export: the network plus post-processing, so the graph returns the anomaly map and the raw score."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from draem_core.errors import DraemError
from draem_core.modelfile import load_model
from draem_core.processing import anomaly_map, image_score


class _Exported(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = anomaly_map(self.model(x).logits)
        return maps, image_score(maps)


def export_onnx(model_path: str | Path, out: str | Path, opset: int = 17) -> Path:
    """Export ``model_path`` to ONNX: input ``image (B, 3, H, W)`` float in [0, 1] at the model size, RGB;
    outputs ``anomaly_map (B, H, W)`` and ``score (B,)``. Written atomically."""
    from draem_core.imageio import write_bytes_atomic

    model, meta = load_model(model_path, "cpu")
    x = torch.rand(1, 3, meta.model.image_height, meta.model.image_width)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        torch.onnx.export(_Exported(model).eval(), (x,), str(tmp), input_names=["image"],
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
