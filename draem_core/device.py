"""Device selection: CUDA when present (and asked for), CPU otherwise."""

from __future__ import annotations

import torch

from draem_core.errors import DraemError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda``/``cuda:N`` checked for availability."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        msg = f"device {name!r} asked for, but no CUDA GPU is available (torch {torch.__version__})"
        raise DraemError(msg)
    try:
        return torch.device(name)
    except RuntimeError as exc:
        msg = f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)"
        raise DraemError(msg) from exc


def describe(device: torch.device) -> str:
    """A short human name: 'CPU (2 threads)' or 'NVIDIA H200'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"
