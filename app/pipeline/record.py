"""What one inspection leaves behind: the record for the trace/publisher and the live slot for the view."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from app.sources.base import Frame
from draem_core.inspector import InspectionResult, Roi
from draem_core.modelfile import ModelMetadata


@dataclass(frozen=True)
class InspectionRecord:
    """One judged frame as plain data (a trace row, a JSON line for a PLC/MES gateway)."""

    time: float  # wall-clock time of the verdict, Unix epoch seconds
    frame_id: int  # the source's frame id
    camera: str  # camera serial number or source name
    model_name: str  # name stored in the model file
    model_version: str  # registry version, or the model's creation time when it has none
    score: float  # raw image score
    normalized: float  # calibrated score, the model's threshold at 0.5
    threshold: float  # raw threshold the verdict used (the operator may have moved it)
    verdict: str  # "OK" or "NG"
    roi: Roi | None  # x, y, width, height of the inspected region; None = whole frame
    latency_ms: float  # frame arrival to verdict

    @property
    def is_ng(self) -> bool:
        """The part was rejected."""
        return self.verdict == "NG"

    def to_dict(self) -> dict:
        """JSON-safe dict (the ROI as a list)."""
        data = asdict(self)
        data["roi"] = list(self.roi) if self.roi is not None else None
        return data


@dataclass(frozen=True)
class LiveResult:
    """The newest thing the pipeline produced, pulled by the view on a timer.

    Attributes:
        seq: Increases with every publication; the view redraws only when it changed.
        frame: The frame (always set).
        result: The verdict, or None while not inspecting (no model, inspection stopped).
        record: The trace record of ``result``, or None.
        inference_ms: Time spent in the model for this frame (0 without a result).
        latency_ms: Frame arrival to publication.
    """

    seq: int
    frame: Frame
    result: InspectionResult | None
    record: InspectionRecord | None
    inference_ms: float
    latency_ms: float


def model_identity(meta: ModelMetadata | None) -> tuple[str, str]:
    """``(name, version)`` of a model: the registry's version where it set one, else the creation time."""
    if meta is None:
        return "", ""
    version = str(meta.extra.get("version") or meta.created or meta.software_version)
    return meta.name, version
