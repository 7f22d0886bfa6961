"""Opening a backend for an Inspector: derive its graph, validate it against torch once per network, and for
``auto`` time every validated candidate (interleaved, same input) and keep the fastest, cached.
"""

from __future__ import annotations

import json
import os
import statistics
import time

import torch

from draem_core.backends.graph import export_map_graph, quantize_int8
from draem_core.backends.runtimes import (
    OnnxRuntimeBackend,
    OpenVinoBackend,
    installed,
    openvino_has_bf16,
    openvino_ir,
    require,
)  # fmt: skip
from draem_core.backends.spec import (
    AUTO,
    EXACT,
    REDUCED,
    RUNTIMES,
    Backend,
    BackendError,
    BackendOptions,
    BackendRequest,
    BackendSpec,
    one_line,
)  # fmt: skip
from draem_core.backends.store import BackendStore, environment, frames_key, network_key
from draem_core.backends.torch_backend import TorchBackend
from draem_core.backends.validation import Reference, Validation, compare, model_inputs, probe_inputs
from draem_core.device import resolve_device
from draem_core.errors import DraemError
from draem_core.modelfile import now_iso


def runtime_device(request: str | BackendRequest, device: str | torch.device) -> torch.device:
    """The device an Inspector with this backend works on: a CPU runtime runs on the CPU.

    Raises:
        BackendError: a CPU runtime was asked for together with a CUDA device given by name.
    """
    req = BackendRequest.parse(request)
    dev = resolve_device(device) if isinstance(device, str) else device
    if req.name in RUNTIMES and dev.type != "cpu":
        if device != "auto":
            raise BackendError(req, f"runs on the CPU, but the device {dev} was asked for; use --device cpu")
        return torch.device("cpu")
    return dev


def open_backend(request: str | BackendRequest, inspector: object, options: BackendOptions | None = None) -> Backend:
    """The backend ``request`` names for ``inspector`` (its model, metadata, device and region are used).

    A named runtime is refused (BackendError) when it is missing or its outputs differ from torch's; ``auto``
    skips such candidates and falls back to torch.
    """
    req = BackendRequest.parse(request)
    if req.name == "torch" or (req.name == AUTO and inspector.device.type != "cpu"):  # type: ignore[attr-defined]
        return TorchBackend(inspector.model, inspector.device)  # type: ignore[attr-defined]
    opener = BackendOpener(inspector, options or BackendOptions())
    return opener.auto(req.precision) if req.name == AUTO else opener.open(req.spec())


class BackendOpener:
    """Derives, validates and times backends for one Inspector."""

    def __init__(self, inspector: object, options: BackendOptions) -> None:
        self.inspector = inspector
        self.options = options
        self.store = BackendStore(options.cache_dir)
        self.net = network_key(inspector.model)  # type: ignore[attr-defined]
        self.env = environment(options.thread_count())
        self.reference = TorchBackend(inspector.model, torch.device("cpu"))  # type: ignore[attr-defined]
        self.reference_maps = Reference(self.reference)
        self.probes = probe_inputs(inspector.size)  # type: ignore[attr-defined]
        good = model_inputs(inspector, options.good_frames) if options.good_frames else None
        self.good = good if good is not None and len(good) >= options.min_good_frames else None
        self.good_key = frames_key(self.good.numpy()) if self.good is not None else None
        n = max(1, round(len(good) * options.int8.calibration_share)) if self.good is not None else 0
        self.calibrating, self.validating = (self.good[:n], self.good[n:]) if self.good is not None else (None, None)

    # --- one backend -------------------------------------------------------------------------------------------
    def open(self, spec: BackendSpec) -> Backend:
        """The validated backend ``spec`` (BackendError when missing, not offered, or refused)."""
        require(spec)
        if spec.reduced and self.good is None:
            n = self.options.min_good_frames
            raise BackendError(spec, f"{spec.precision} needs at least {n} good frames of the product to calibrate "
                                     "and validate on (--calibration DIR)")  # fmt: skip
        try:
            backend = self.derive(spec)
            validation = self._validation(spec, backend)
        except BackendError:
            raise
        except DraemError as exc:  # export or quantisation failed: this backend is not available
            raise BackendError(spec, str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - the runtimes raise their own types (InvalidArgument, Fail, ...)
            raise BackendError(spec, f"failed to derive or run its graph ({type(exc).__name__}: {one_line(exc)})") from exc
        if not validation.accepted:
            raise BackendError(spec, validation.reason)
        backend.info = {"validation": validation.to_dict()}  # type: ignore[attr-defined]
        return backend

    def derive(self, spec: BackendSpec) -> Backend:
        """The backend ``spec`` with its derived graph, not validated: benchmarks compare refused candidates
        too. Inspection opens backends with :meth:`open`."""
        graph = self._graph(spec.precision == "int8")
        threads = self.options.thread_count()
        if spec.name == "onnxruntime":
            return OnnxRuntimeBackend(graph, spec, threads)
        folder = self.store.path(self.net, graph.stem.replace("map", "openvino"))
        return OpenVinoBackend(openvino_ir(graph, folder), spec, threads, self.inspector.size,  # type: ignore[attr-defined]
                               self.store.path(self.net, "openvino-compiled"))  # fmt: skip

    def _graph(self, int8: bool):
        fp32 = self.store.path(self.net, "map.onnx")
        if not fp32.is_file():
            export_map_graph(self.inspector.model, fp32)  # type: ignore[attr-defined]
        if not int8:
            return fp32
        out = self.store.path(self.net, f"map-int8-{self.good_key[:16]}.onnx")  # type: ignore[index]
        if not out.is_file():
            quantize_int8(fp32, out, self.calibrating.numpy(), self.options.int8)  # type: ignore[union-attr]
        return out

    def _validation(self, spec: BackendSpec, backend: Backend) -> Validation:
        key = self._key(str(spec), self.good_key if spec.reduced else "probe")
        cached = self.store.get("validations", key)
        if cached is not None:
            return Validation.from_dict(cached)
        if spec.reduced:
            result = compare(backend, self.reference_maps, self.validating, REDUCED, defects=True)  # type: ignore[arg-type]
        else:
            result = compare(backend, self.reference_maps, self.probes, EXACT)
        self.store.put("validations", key, {**result.to_dict(), "at": now_iso()})
        return result

    def _key(self, *parts: object) -> str:
        return "|".join([self.net, *map(str, parts), json.dumps(self.env, sort_keys=True)])

    # --- auto --------------------------------------------------------------------------------------------------
    def candidates(self, precision: str | None) -> list[BackendSpec]:
        """Every installed runtime at every precision it offers here (bf16/int8 only with good frames)."""
        precisions = [precision] if precision else ["fp32", "bf16", "int8"]
        return [BackendSpec(n, p) for n in RUNTIMES if installed(n) for p in precisions if self._offered(n, p)]

    def _offered(self, name: str, precision: str) -> bool:
        if precision == "fp32":
            return True
        if self.good is None:  # bf16 and int8 are validated (int8 also calibrated) on good frames
            return False
        return precision == "int8" or (name == "openvino" and openvino_has_bf16())

    def auto(self, precision: str | None) -> Backend:
        """The fastest validated candidate (torch included), chosen once per network, runtimes and CPU."""
        candidates = self.candidates(precision)
        key = self._key(",".join(map(str, candidates)), self.good_key)
        cached = self.store.get("choices", key)
        if cached is not None:
            spec = BackendSpec(cached["backend"], cached["precision"])
            try:
                backend = self.reference if spec.name == "torch" else self.open(spec)
                backend.info = {**getattr(backend, "info", {}), "auto": cached}  # type: ignore[attr-defined]
                return backend
            except BackendError:
                pass  # the cached choice no longer opens: choose again
        opened: dict[BackendSpec, Backend] = {self.reference.spec: self.reference}
        refused: dict[str, str] = {}
        for spec in candidates:
            try:
                opened[spec] = self.open(spec)
            except BackendError as exc:
                refused[str(spec)] = exc.reason
        ms = time_interleaved(opened, self._timing_input(), self.options.timing_runs)
        best = min(ms, key=lambda s: min(ms[s]))  # the least time: what load on a shared machine disturbs least
        record = {"backend": best.name, "precision": best.precision, "refused": refused, "at": now_iso(),
                  "ms_min": {str(s): round(min(v), 2) for s, v in ms.items()},
                  "ms_median": {str(s): round(statistics.median(v), 2) for s, v in ms.items()},
                  "load_avg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None}  # fmt: skip
        self.store.put("choices", key, record)
        chosen = opened[best]
        chosen.info = {**getattr(chosen, "info", {}), "auto": record}  # type: ignore[attr-defined]
        return chosen

    def _timing_input(self) -> torch.Tensor:
        return (self.good if self.good is not None else self.probes)[:1]


def time_interleaved(backends: dict[BackendSpec, Backend], x: torch.Tensor, runs: int) -> dict[BackendSpec, list[float]]:
    """Milliseconds of each ``anomaly_maps`` call per backend, the backends taking turns on ``x`` (two warm-up
    calls each first), so that load on a shared machine falls on all of them alike."""
    for backend in backends.values():
        for _ in range(2):
            backend.anomaly_maps(x)
    times: dict[BackendSpec, list[float]] = {s: [] for s in backends}
    for _ in range(max(1, runs)):
        for spec, backend in backends.items():
            t0 = time.perf_counter()
            backend.anomaly_maps(x)
            times[spec].append((time.perf_counter() - t0) * 1e3)
    return times
