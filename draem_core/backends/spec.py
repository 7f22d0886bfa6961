"""What an inference backend is asked for: names, precisions, tolerances, options and the one error type.

A *backend* turns a batch of model inputs into anomaly maps at model resolution; everything before (region,
alignment, resize) and after (score, verdict, map back to the frame) is shared post-processing in
:mod:`draem_core.inspector` and :mod:`draem_core.processing`, so every backend is judged the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from draem_core.calibration import MIN_MARGIN
from draem_core.errors import DraemError

BACKENDS = ("torch", "onnxruntime", "openvino")  # torch is always there; the others are optional extras
RUNTIMES = BACKENDS[1:]  # the CPU runtimes that run an exported graph
PRECISIONS = ("fp32", "bf16", "int8")
AUTO = "auto"


class BackendError(DraemError):
    """A backend is not installed, cannot run on the asked device, or its outputs differ from torch's."""

    def __init__(self, backend: object, reason: str) -> None:
        self.backend = str(backend)
        self.reason = reason
        super().__init__(f"inference backend {self.backend}: {reason}")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (the runtimes' messages span several)."""
    return " ".join(str(exc).split())


@dataclass(frozen=True)
class BackendSpec:
    """One concrete way to run the network."""

    name: str  # torch | onnxruntime | openvino
    precision: str = "fp32"  # fp32 | bf16 (openvino, CPUs with bf16 instructions) | int8 (post-training quantised)

    def __str__(self) -> str:
        return self.name if self.precision == "fp32" else f"{self.name}:{self.precision}"

    @property
    def reduced(self) -> bool:
        """bf16 and int8 change the arithmetic: validated on good images of the product, with a wider tolerance."""
        return self.precision != "fp32"


@dataclass(frozen=True)
class BackendRequest:
    """What the user asked for: a backend name or ``auto``, and optionally a precision."""

    name: str = "torch"  # torch | onnxruntime | openvino | auto
    precision: str | None = None  # None: fp32 for a named backend, any validated precision for auto

    @classmethod
    def parse(cls, text: str | BackendRequest, precision: str | None = None) -> BackendRequest:
        """``"openvino"``, ``"openvino:int8"``, ``"auto"`` ... (``precision`` overrides a ``:suffix``).

        Raises:
            BackendError: an unknown name or precision, or a precision torch does not offer.
        """
        if isinstance(text, BackendRequest):
            return text if precision is None else cls(text.name, precision)
        name, _, suffix = str(text).strip().lower().partition(":")
        precision = precision or suffix or None
        if name not in (*BACKENDS, AUTO):
            raise BackendError(text, f"unknown backend; choose one of {', '.join((*BACKENDS, AUTO))}")
        if precision is not None and precision not in PRECISIONS:
            raise BackendError(text, f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        if name == "torch" and precision not in (None, "fp32"):
            raise BackendError(text, f"torch runs fp32 (bf16 autocast on CUDA); {precision} needs onnxruntime or openvino")
        return cls(name, precision)

    def __str__(self) -> str:
        return self.name if self.precision is None else f"{self.name}:{self.precision}"

    def spec(self) -> BackendSpec:
        """The concrete spec of a named request (not ``auto``)."""
        return BackendSpec(self.name, self.precision or "fp32")


@dataclass(frozen=True)
class Tolerance:
    """How far a backend's outputs may lie from torch's on the validation images and still be used."""

    score: float  # largest |raw image score difference| on any validation image
    map_mean: float  # largest mean |map difference| of any validation image
    map_max: float  # largest |map difference| of any pixel (1.0: not checked)
    auroc_drop: float  # largest drop of the image AUROC, good images against the same with synthetic defects


# fp32 runtimes compute the same arithmetic with other kernels: differences are rounding (measured ~1e-5).
EXACT = Tolerance(score=1e-3, map_mean=1e-4, map_max=1e-2, auroc_drop=0.0)
# bf16 and int8: the score may move by no more than the floor margin calibration puts between the good scores
# and the threshold (MIN_MARGIN, 0.005), the map by 0.005 on average, the AUROC on synthetic defects by 0.005.
REDUCED = Tolerance(score=MIN_MARGIN, map_mean=0.005, map_max=1.0, auroc_drop=0.005)


@dataclass(frozen=True)
class Int8Recipe:
    """Which convolutions post-training quantisation turns to INT8, and on how many good images it calibrates.

    The discriminative network learnt to flag any difference between the reconstruction and the image, so
    rounding in the reconstructive network, or in the first block that compares the two, reads as a defect
    everywhere (measured on the demo model: quantising every convolution raised good parts' scores by 0.3-0.5;
    quantising the reconstructive decoder alone by 0.01-0.02). Only the rest of the discriminator is quantised.
    """

    quantize: tuple[str, ...] = ("/discriminative/",)  # Conv nodes whose ONNX name contains one of these ...
    keep_float: tuple[str, ...] = ("/discriminative/encoder.0/",)  # ... unless it contains one of these
    per_channel: bool = True  # one weight scale per output channel
    calibration_share: float = 0.5  # share of the good images that calibrate the ranges; the rest validate


@dataclass(frozen=True)
class BackendOptions:
    """Where a backend keeps its derived files, and what it may use to validate and calibrate."""

    cache_dir: Path | None = None  # exported graphs, OpenVINO IR, validation and auto-choice records; None = temporary
    good_frames: tuple[np.ndarray, ...] = field(default=(), compare=False)  # good frames of the product (never
    # test images): int8 calibration and bf16/int8 validation; without them auto offers fp32 only
    threads: int | None = None  # CPU threads of the runtime; None = torch.get_num_threads()
    timing_runs: int = 12  # auto: timed runs of each candidate, interleaved, after two warm-up runs each
    int8: Int8Recipe = field(default_factory=Int8Recipe)
    min_good_frames: int = 8  # bf16/int8 need at least this many good frames (half calibrate, half validate)

    def thread_count(self) -> int:
        return self.threads or torch.get_num_threads()


class Backend(Protocol):
    """Runs the network: model inputs -> anomaly maps at model resolution."""

    spec: BackendSpec
    device: torch.device  # where its inputs are expected
    info: dict  # JSON-able: its validation against torch, and the timings auto chose it by

    def anomaly_maps(self, x: torch.Tensor) -> torch.Tensor:
        """``x (B, 3, H, W)`` float in [0, 1] at model size on :attr:`device` -> maps ``(B, H, W)`` float in [0, 1]."""
        ...
