"""Derived graphs for the CPU runtimes: the network -> anomaly map as ONNX (fp32), and its INT8 quantisation.

These are artefacts derived from the model file, kept in the backend cache (:mod:`draem_core.backends.store`);
the safetensors model file stays the only source of truth.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from draem_core.backends.spec import Int8Recipe
from draem_core.errors import DraemError
from draem_core.model import DraemModel
from draem_core.processing import anomaly_map

INPUT, OUTPUT = "image", "anomaly_map"  # tensor names of every derived graph
OPSET = 17


class MapGraph(nn.Module):
    """The network followed by the softmax: ``(B, 3, H, W)`` in [0, 1] -> anomaly map ``(B, H, W)``."""

    def __init__(self, model: DraemModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return anomaly_map(self.model(x).logits)


def export_graph(
    module: nn.Module, example: torch.Tensor, out: Path, outputs: list[str], what: str, opset: int = OPSET
) -> Path:
    """Export ``module`` to ONNX at ``out`` (written to a partial file, then renamed): input ``image`` with a
    dynamic batch axis, the given output names.

    Raises:
        DraemError: the ``onnx`` package is missing or the exporter failed (``what`` names the export).
    """
    if importlib.util.find_spec("onnx") is None:  # torch's exporter needs it
        msg = f"{what} needs the 'onnx' package: pip install onnx"
        raise DraemError(msg)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    axes = {name: {0: "batch"} for name in [INPUT, *outputs]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # shape checks traced as constants: fixed size
            warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: kept for its plain graphs
            torch.onnx.export(module.eval(), (example,), str(tmp), input_names=[INPUT], output_names=outputs,
                              opset_version=opset, dynamic_axes=axes, dynamo=False)  # fmt: skip
        tmp.replace(out)
    except RuntimeError as exc:
        msg = f"{what} failed: {exc}"
        raise DraemError(msg) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return out


def export_map_graph(model: DraemModel, out: Path) -> Path:
    """The fp32 map graph of ``model`` (on the CPU, in eval mode) at its own input size."""
    cfg = model.config
    example = torch.rand(1, 3, cfg.image_height, cfg.image_width)
    cpu_model = DraemModel(cfg)
    cpu_model.load_state_dict({k: v.detach().cpu() for k, v in model.state_dict().items()})
    with torch.no_grad():
        return export_graph(MapGraph(cpu_model.eval()), example, out, [OUTPUT], "the ONNX export of the map graph")


def quantize_int8(fp32_graph: Path, out: Path, calibration: np.ndarray, recipe: Int8Recipe) -> Path:
    """Static post-training quantisation (QDQ, uint8 activations, int8 weights) of the convolutions the recipe
    names, with activation ranges from ``calibration`` (float ``(N, 3, H, W)`` model inputs of good parts).

    ONNX Runtime's quantisation tools do it; the QDQ graph runs on ONNX Runtime and on OpenVINO. Their optional
    pre-processing (shape inference, graph fusion) is skipped: the exported graph's batch norms are folded
    already, and with it the quantised graph came out the same (measured on the demo model); it also imports
    modules a frozen app cannot find (``onnxruntime.transformers`` extends ``sys.path``).

    Raises:
        DraemError: onnxruntime (with its quantisation tools) or onnx is missing.
    """
    try:
        import onnx
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ModuleNotFoundError as exc:
        msg = f"int8 quantisation needs onnxruntime and onnx ({exc.name} is missing)"
        raise DraemError(msg) from exc

    class _Images(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{INPUT: x[None].astype(np.float32)} for x in calibration])

        def get_next(self) -> dict | None:
            return next(self._it, None)

    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    nodes = _quantized_nodes(onnx.load(str(fp32_graph)), recipe)
    root = logging.getLogger()
    root.addFilter(_no_preprocess_advice)
    try:
        quantize_static(str(fp32_graph), str(tmp), _Images(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_quantize=nodes,
                        per_channel=recipe.per_channel)  # fmt: skip
        tmp.replace(out)
    finally:
        root.removeFilter(_no_preprocess_advice)
        tmp.unlink(missing_ok=True)
    return out


def _no_preprocess_advice(record: logging.LogRecord) -> bool:
    return "pre-processing before quantization" not in record.getMessage()


def _quantized_nodes(graph_model: object, recipe: Int8Recipe) -> list[str]:
    names = [n.name for n in graph_model.graph.node if n.op_type == "Conv"]  # type: ignore[attr-defined]
    return [n for n in names if any(q in n for q in recipe.quantize) and not any(k in n for k in recipe.keep_float)]
