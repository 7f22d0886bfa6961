"""The verdict contract: every judged part is OK, NG or NOT_JUDGED, and the one threshold rule.

A part the model could not judge (a non-finite score, a frame it refuses, a model error) is NOT_JUDGED,
never OK: every output treats it as a reject. The threshold in force is the operator's when one is set, else
the model's calibrated one, else :data:`DEFAULT_THRESHOLD` — :func:`threshold_in_force` is the only place
that rule is written.
"""

from __future__ import annotations

import math
from typing import Final

OK: Final = "OK"
NG: Final = "NG"
NOT_JUDGED: Final = "NOT_JUDGED"
VERDICTS: Final = (OK, NG, NOT_JUDGED)

DEFAULT_THRESHOLD: Final = 0.5  # raw threshold of a model that carries no calibration

# Reasons a frame is NOT_JUDGED (the text after the colon names the details).
NON_FINITE = "non-finite score"
REGION = "region outside the frame"
ALIGNMENT = "alignment failed"
MODEL_ERROR = "model error"
OVERRUN = "queue overrun"
NO_FRAME = "no frame after the trigger"
NO_MODEL = "no model loaded"
NO_RECORD = "no verdict from this camera"  # a part's camera gave no record in time (several cameras)


def threshold_in_force(calibration: object | None, operator: float | None = None) -> float:
    """The raw threshold a verdict uses: the operator's, else the calibrated one, else 0.5.

    Args:
        calibration: A :class:`~draem_core.calibration.Calibration` (anything with ``threshold``) or None.
        operator: A threshold the operator set, or None to use the model's.
    """
    if operator is not None:
        return float(operator)
    if calibration is not None:
        return float(calibration.threshold)
    return DEFAULT_THRESHOLD


def judge(score: float, threshold: float) -> str:
    """``NG`` when ``score >= threshold``, ``OK`` below it, ``NOT_JUDGED`` when either is not finite."""
    if not (math.isfinite(score) and math.isfinite(threshold)):
        return NOT_JUDGED
    return NG if score >= threshold else OK


def is_reject(verdict: str) -> bool:
    """Whether a verdict rejects the part (NG and NOT_JUDGED both do; anything unknown does too)."""
    return verdict != OK
