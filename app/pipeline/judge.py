"""Judging one frame under the verdict contract, and the record it leaves.

Whatever happens to a frame the station takes to judge — the model judges it, refuses it (region outside the
frame, alignment failed), raises, or gives a non-finite score — it ends in exactly one verdict: OK, NG or
NOT_JUDGED with the reason. Nothing here blocks on anything but the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app.pipeline.record import InspectionRecord, model_identity
from app.sources.base import Frame, Trigger
from draem_core.alignment import AlignmentError
from draem_core.inspector import InspectionResult, Inspector, Roi
from draem_core.region import RegionError
from draem_core.verdict import ALIGNMENT, MODEL_ERROR, NOT_JUDGED, REGION
from draem_core.version import __version__


@dataclass(frozen=True)
class Judgement:
    """The outcome of judging one frame."""

    verdict: str  # OK, NG or NOT_JUDGED
    reason: str  # why NOT_JUDGED ("" otherwise)
    result: InspectionResult | None  # the model's output (None when it raised)
    threshold: float  # raw threshold in force
    inference_ms: float  # time spent in the model


def judge_frame(inspector: Inspector, frame: Frame, roi: Roi | None) -> Judgement:
    """Run the model on ``frame``; every failure becomes a NOT_JUDGED verdict with its reason."""
    start = time.monotonic()
    try:
        result = inspector.inspect(frame.image, roi)
    except AlignmentError as exc:
        return _not_judged(f"{ALIGNMENT}: {exc}", inspector, start)
    except RegionError as exc:
        return _not_judged(f"{REGION}: {exc}", inspector, start)
    except Exception as exc:  # noqa: BLE001 - a model that raises must not stop the line; the part is rejected
        return _not_judged(f"{MODEL_ERROR}: {type(exc).__name__}: {exc}", inspector, start)
    elapsed = (time.monotonic() - start) * 1e3
    return Judgement(result.verdict, result.reason, result, result.threshold, elapsed)


def not_judged(reason: str, threshold: float) -> Judgement:
    """A part nobody could judge (no model, inspection stopped, no frame)."""
    return Judgement(NOT_JUDGED, reason, None, threshold, 0.0)


def _not_judged(reason: str, inspector: Inspector, start: float) -> Judgement:
    return Judgement(NOT_JUDGED, reason, None, inspector.threshold, (time.monotonic() - start) * 1e3)


def make_record(judgement: Judgement, *, frame: Frame | None, trigger: Trigger | None, camera: str,
                inspector: Inspector | None, latency_ms: float, recipe: str = "") -> InspectionRecord:  # fmt: skip
    """The record of one verdict (``frame`` None: a trigger that got no frame)."""
    name, version = model_identity(inspector.meta if inspector is not None else None)
    result = judgement.result
    judged = result is not None and judgement.verdict != NOT_JUDGED
    return InspectionRecord(
        time=time.time(),
        frame_id=int(frame.frame_id) if frame is not None else 0,
        camera=camera,
        model_name=name,
        model_version=version,
        score=float(result.score) if judged else None,
        normalized=float(result.normalized) if judged else None,
        threshold=float(judgement.threshold),
        verdict=judgement.verdict,
        roi=result.roi if result is not None else None,
        latency_ms=latency_ms,
        reason=judgement.reason,
        trigger=trigger.number if trigger is not None else 0,
        part_id=trigger.part_id if trigger is not None else "",
        recipe=recipe,
        software_version=__version__,
        image_source=frame.source_id if frame is not None and frame.source_id != camera else "",
    )
