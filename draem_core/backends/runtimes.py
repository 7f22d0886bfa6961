"""The CPU runtimes that run a derived graph: ONNX Runtime and OpenVINO (each an optional extra).

Both run with the thread count torch uses and without busy-waiting threads (as ``OMP_WAIT_POLICY=PASSIVE``
does for torch: a plant PC runs the GUI, the camera process and inference on the same cores).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from draem_core.backends.graph import INPUT, OUTPUT
from draem_core.backends.spec import BackendError, BackendSpec, one_line

PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}  # backend -> module it needs


def installed(name: str) -> bool:
    """Whether the runtime of backend ``name`` can be imported (torch always can)."""
    module = PACKAGES.get(name)
    return module is None or importlib.util.find_spec(module) is not None


def require(spec: BackendSpec) -> None:
    """Raises BackendError when the runtime is not installed, or the precision is not offered here."""
    if not installed(spec.name):
        extra = f'pip install "draem-inspect[{spec.name}]"'
        raise BackendError(spec, f"the {spec.name} package is not installed ({extra})")
    if spec.precision == "bf16" and not (spec.name == "openvino" and openvino_has_bf16()):
        raise BackendError(spec, "bf16 needs openvino on a CPU with bf16 instructions (AVX512-BF16 or AMX)")
    if spec.precision == "int8" and not installed("onnxruntime"):
        raise BackendError(spec, 'int8 graphs are made with onnxruntime\'s quantisation tools: pip install "draem-inspect[onnxruntime]"')


def _as_numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().to("cpu", torch.float32).contiguous().numpy()


class OnnxRuntimeBackend:
    """A derived graph on ONNX Runtime's CPU execution provider (all graph optimisations, NCHWc kernels)."""

    def __init__(self, graph: Path, spec: BackendSpec, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors (Fail, InvalidGraph, ...)
            raise BackendError(spec, f"onnxruntime cannot load {graph.name}: {one_line(exc)}") from exc
        self.spec = spec
        self.device = torch.device("cpu")
        self.info: dict = {}  # its validation, and how it was chosen (auto)

    def anomaly_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, H, W)`` float in [0, 1] at model size -> maps ``(B, H, W)``."""
        return torch.from_numpy(self.session.run([OUTPUT], {INPUT: _as_numpy(x)})[0])


def openvino_has_bf16() -> bool:
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def openvino_ir(graph: Path, folder: Path) -> Path:
    """Convert an ONNX graph to OpenVINO IR in ``folder`` (written to a temporary folder, then renamed)."""
    import openvino as ov

    xml = folder / "model.xml"
    if xml.is_file():
        return xml
    tmp = folder.with_name(f".{folder.name}.partial")
    tmp.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov.Core().read_model(str(graph)), str(tmp / "model.xml"), compress_to_fp16=False)
    try:
        tmp.replace(folder)
    except OSError:  # another process made it first
        pass
    return xml


class OpenVinoBackend:
    """OpenVINO IR compiled for the CPU at batch 1 (a static shape compiles to faster kernels); a batch runs
    image by image. ``fp32`` asks for f32 inference explicitly: OpenVINO would otherwise run bf16 on CPUs
    that have it. Threads are not pinned to cores: the GUI and the camera process share them."""

    def __init__(self, ir: Path, spec: BackendSpec, threads: int, size: tuple[int, int], cache: Path) -> None:
        import openvino as ov

        core = ov.Core()
        core.set_property({"CACHE_DIR": str(cache)})
        try:
            model = core.read_model(str(ir))
            model.reshape({0: [1, 3, *size]})
            config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "ENABLE_CPU_PINNING": False,
                      "INFERENCE_PRECISION_HINT": "bf16" if spec.precision == "bf16" else "f32"}  # fmt: skip
            self.request = core.compile_model(model, "CPU", config).create_infer_request()
        except RuntimeError as exc:
            raise BackendError(spec, f"openvino cannot compile {ir}: {one_line(exc)}") from exc
        self.spec = spec
        self.device = torch.device("cpu")
        self.info: dict = {}  # its validation, and how it was chosen (auto)

    def anomaly_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, H, W)`` float in [0, 1] at model size -> maps ``(B, H, W)``."""
        images = _as_numpy(x)
        maps = []
        for i in range(images.shape[0]):
            self.request.infer({0: images[i : i + 1]})
            maps.append(self.request.get_output_tensor(0).data.copy())
        return torch.from_numpy(np.concatenate(maps))
