"""Inspection regions: the part of a camera frame a model looks at, ``(x, y, width, height)`` in frame pixels.

A model trained on a region (``train --roi``) stores it in its file; inspection, evaluation, calibration and the
retrain wizard then crop every frame to that same region before the resize to the model's input size. The
operator's ROI in the live window is a different thing: it is clipped to the frame and may be anywhere.
"""

from __future__ import annotations

import numpy as np

from draem_core.errors import DraemError

Roi = tuple[int, int, int, int]  # x, y, width, height in frame pixels


class RegionError(DraemError):
    """A frame does not contain a model's inspection region."""


def parse_roi(text: str) -> Roi:
    """``"X,Y,W,H"`` -> ``(x, y, w, h)``; raises DraemError naming the problem."""
    parts = [p.strip() for p in text.replace("x", ",").split(",")] if text else []
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        msg = f"inspection region {text!r} is not X,Y,WIDTH,HEIGHT in pixels (e.g. 112,32,416,416)"
        raise DraemError(msg)
    x, y, w, h = values
    if x < 0 or y < 0 or w < 1 or h < 1:
        msg = f"inspection region {text!r} needs X, Y >= 0 and WIDTH, HEIGHT >= 1"
        raise DraemError(msg)
    return x, y, w, h


def as_roi(value: object) -> Roi | None:
    """A region read from JSON (list or None) as a tuple."""
    if value is None:
        return None
    x, y, w, h = (int(v) for v in value)  # type: ignore[union-attr]
    return x, y, w, h


def describe_roi(roi: Roi) -> str:
    x, y, w, h = roi
    return f"{w}x{h} at ({x}, {y})"


def clip_roi(shape: tuple[int, ...], roi: Roi) -> Roi:
    """``roi`` clipped to a frame of ``shape`` (at least one pixel)."""
    fh, fw = shape[:2]
    x, y, w, h = (int(v) for v in roi)
    x, y = min(max(x, 0), fw - 1), min(max(y, 0), fh - 1)
    return x, y, max(1, min(w, fw - x)), max(1, min(h, fh - y))


def fits(shape: tuple[int, ...], roi: Roi) -> bool:
    x, y, w, h = roi
    return x + w <= shape[1] and y + h <= shape[0]


def require_inside(shape: tuple[int, ...], roi: Roi, what: str = "frame") -> None:
    """Raise RegionError unless a frame of ``shape`` contains all of ``roi`` (a model's region is never clipped:
    a clipped region would be resized with another scale than the model was trained with)."""
    if not fits(shape, roi):
        msg = (f"{what} of {shape[1]}x{shape[0]} pixels does not contain the model's inspection region "
               f"{describe_roi(roi)}; the model was trained on larger frames")  # fmt: skip
        raise RegionError(msg)


def crop(frame: np.ndarray, roi: Roi | None) -> np.ndarray:
    """The ``roi`` window of ``frame`` (a view, clipped to the frame); the frame itself when ``roi`` is None."""
    if roi is None:
        return frame
    x, y, w, h = clip_roi(frame.shape, roi)
    return frame[y : y + h, x : x + w]
