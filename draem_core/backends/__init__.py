"""Inference backends under :class:`draem_core.inspector.Inspector`: torch, ONNX Runtime and OpenVINO.

``Inspector.from_file(path, "cpu", backend="auto", options=BackendOptions(cache_dir=...))`` picks the fastest
backend that is installed and validated for the model. See :mod:`draem_core.backends.selection`.
"""

from draem_core.backends.selection import open_backend, runtime_device
from draem_core.backends.spec import (
    AUTO,
    BACKENDS,
    PRECISIONS,
    Backend,
    BackendError,
    BackendOptions,
    BackendRequest,
    BackendSpec,
)  # fmt: skip

__all__ = ["AUTO", "BACKENDS", "PRECISIONS", "Backend", "BackendError", "BackendOptions", "BackendRequest", "BackendSpec",
           "open_backend", "runtime_device"]  # fmt: skip
