"""What one inspection leaves behind: the record for the trace and outputs, and the live slot for the view."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from app.sources.base import Frame
from draem_core.inspector import InspectionResult, Roi
from draem_core.modelfile import ModelMetadata
from draem_core.verdict import NG, NOT_JUDGED, OK, is_reject


@dataclass(frozen=True)
class InspectionRecord:
    """One part's verdict as plain data (a trace row, a JSON line, an OPC UA event, an MQTT message).

    Every frame the station takes to judge, and every trigger, ends in exactly one record.
    """

    time: float  # wall-clock time of the verdict, Unix epoch seconds
    frame_id: int  # the source's frame id (0 when the trigger got no frame)
    camera: str  # the camera: its serial number, or the source's name (the same for every frame of it)
    model_name: str  # name stored in the model file ("" without a model)
    model_version: str  # registry version, or the model's creation time when it has none
    score: float | None  # raw image score; None when the part was not judged
    normalized: float | None  # calibrated score, the threshold at 0.5; None when not judged
    threshold: float  # raw threshold the verdict used (the operator may have moved it)
    verdict: str  # "OK", "NG" or "NOT_JUDGED" (draem_core.verdict)
    roi: Roi | None  # x, y, width, height of the inspected region; None = whole frame
    latency_ms: float  # frame arrival (or trigger) to verdict
    reason: str = ""  # why the part was NOT_JUDGED ("" otherwise)
    trigger: int = 0  # the trigger's number in triggered mode; 0 in free run or for an unannounced trigger
    part_id: str = ""  # the part id given with the trigger ("" if none)
    recipe: str = ""  # the recipe in force ("" when none is used)
    software_version: str = ""  # draem-inspect version that judged the part
    image_source: str = ""  # where the frame came from when that differs per frame (a folder's file, a video's frame)

    @property
    def is_ng(self) -> bool:
        """The model found a defect."""
        return self.verdict == NG

    @property
    def rejected(self) -> bool:
        """The part must not pass (NG or NOT_JUDGED): what the reject pulse and outputs act on."""
        return is_reject(self.verdict)

    def to_dict(self) -> dict:
        """JSON-safe dict (the ROI as a list, non-finite numbers as None)."""
        data = asdict(self)
        data["roi"] = list(self.roi) if self.roi is not None else None
        for key in ("score", "normalized", "threshold", "latency_ms"):
            value = data[key]
            if value is not None and not math.isfinite(value):
                data[key] = None
        return data


@dataclass(frozen=True)
class PartRecord:
    """One triggered part's verdict across every camera of the station.

    The part is rejected when any camera rejects it: NG when any camera says NG, else NOT_JUDGED when any camera
    could not judge it, else OK (:func:`part_verdict`). With one camera it is that camera's verdict.
    """

    time: float  # wall-clock time of the last camera's verdict, Unix epoch seconds
    trigger: int  # the trigger's number (0: a hardware trigger the station did not issue)
    part_id: str  # the part id given with the trigger ("" if none)
    verdict: str  # OK, NG or NOT_JUDGED
    recipe: str  # the recipe in force
    cameras: tuple[InspectionRecord, ...]  # each camera's record of this part, in camera order

    @property
    def rejected(self) -> bool:
        return is_reject(self.verdict)

    def to_dict(self) -> dict:
        """JSON-safe dict with each camera's record."""
        return {"time": self.time, "trigger": self.trigger, "part_id": self.part_id, "verdict": self.verdict,
                "recipe": self.recipe, "cameras": [r.to_dict() for r in self.cameras]}  # fmt: skip


def part_verdict(verdicts: list[str] | tuple[str, ...]) -> str:
    """The part's verdict from its cameras' verdicts (see :class:`PartRecord`)."""
    if NG in verdicts:
        return NG
    return NOT_JUDGED if any(v != OK for v in verdicts) or not verdicts else OK


@dataclass(frozen=True)
class LiveResult:
    """The newest thing the pipeline produced, pulled by the view on a timer.

    Attributes:
        seq: Increases with every publication; the view redraws only when it changed.
        frame: The frame (always set).
        result: The model's output, or None while not inspecting or when the model could not judge it.
        record: The record of this frame (its verdict), or None while not inspecting.
        inference_ms: Time spent in the model for this frame (0 without a result).
        latency_ms: Frame arrival to publication.
    """

    seq: int
    frame: Frame
    result: InspectionResult | None
    record: InspectionRecord | None
    inference_ms: float
    latency_ms: float

    @property
    def verdict(self) -> str | None:
        """OK, NG or NOT_JUDGED for this frame; None while not inspecting."""
        return self.record.verdict if self.record is not None else None


def model_identity(meta: ModelMetadata | None) -> tuple[str, str]:
    """``(name, version)`` of a model: the registry's version where it set one, else the creation time."""
    if meta is None:
        return "", ""
    version = str(meta.extra.get("version") or meta.created or meta.software_version)
    return meta.name, version
