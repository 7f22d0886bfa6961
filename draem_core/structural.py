"""Structural anomalies for the validation split: defects of kinds the training's texture paste never makes.

DRAEM learns from textures pasted under Perlin masks. A validation split made only of that kind rated every
scoring 0.96-1.00 on four real datasets (docs/benchmarks.md §8, juice bottle 1.000 for all four): it could not
tell the scorings apart, and its escape rate (0-7 %) promised far more than real defects gave. Defects on a
fixed-camera line are often structural instead:

- ``cut-paste``: a piece of the part where it does not belong (a shifted component, a misplaced label): a
  rectangle of the image copied elsewhere in it, slightly brighter or darker;
- ``scratch``: a thin line (a scratch, a crack, a cut): a polyline a few pixels wide, darker than what it crosses
  when that is bright, brighter when it is dark;
- ``wipe``: a region whose detail is gone (a missing print, a hole showing a flat background, a smear): an
  ellipse replaced by a heavy blur of the image.

Each is made from the image itself, so colours and textures stay those of the part. Only the validation split
uses them (never training), seeded, so a model's validation figures are reproducible.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

KINDS = ("cut-paste", "scratch", "wipe")  # one anomaly of each per held-out image


def structural_anomaly(image: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``image`` ``(H, W, 3)`` float32 in [0, 1] with one anomaly of ``kind`` (:data:`KINDS`).

    Raises:
        ValueError: an unknown kind or an image smaller than 16 pixels a side.
    """
    h, w = image.shape[:2]
    if min(h, w) < 16:
        msg = f"an image of {h}x{w} is too small for a structural anomaly (16x16 at least)"
        raise ValueError(msg)
    make = {"cut-paste": _cut_paste, "scratch": _scratch, "wipe": _wipe}.get(kind)
    if make is None:
        msg = f"unknown structural anomaly {kind!r} (one of {', '.join(KINDS)})"
        raise ValueError(msg)
    return make(np.ascontiguousarray(image, dtype=np.float32), rng)


def _cut_paste(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    area = rng.uniform(0.02, 0.08) * h * w
    aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
    ph = int(np.clip(math.sqrt(area * aspect), 4, h // 2))
    pw = int(np.clip(area / ph, 4, w // 2))
    sy, sx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
    for _ in range(20):  # a destination at least half a patch away from the source on one axis
        dy, dx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        if abs(dy - sy) >= ph // 2 or abs(dx - sx) >= pw // 2:
            break
    out = image.copy()
    gain = rng.uniform(0.85, 0.95) if rng.random() < 0.5 else rng.uniform(1.05, 1.15)
    out[dy : dy + ph, dx : dx + pw] = np.clip(image[sy : sy + ph, sx : sx + pw] * gain, 0.0, 1.0)
    return out


def _scratch(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    span = rng.uniform(0.15, 0.5) * max(h, w)
    start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
    angle = rng.uniform(0, math.pi)
    points = [start]
    for _ in range(int(rng.integers(1, 4))):  # 2-4 points, each leg turning a little
        angle += rng.uniform(-0.5, 0.5)
        step = span / 3 * rng.uniform(0.7, 1.3)
        points.append(points[-1] + step * np.array([math.cos(angle), math.sin(angle)]))
    line = np.clip(np.round(points), [0, 0], [w - 1, h - 1]).astype(np.int32)
    thickness = max(2, round(min(h, w) * rng.uniform(0.008, 0.02)))
    mask = np.zeros((h, w), np.uint8)
    cv2.polylines(mask, [line.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_AA)
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    strength = rng.uniform(0.3, 0.6)
    crossed = float((alpha * image).sum() / max(float(alpha.sum()) * 3, 1e-6))  # mean brightness under the line
    marked = image * (1 - strength) if crossed > 0.5 else 1 - (1 - image) * (1 - strength)  # shows on either
    return (1 - alpha) * image + alpha * marked


def _wipe(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    ay, ax = max(3, int(rng.uniform(0.06, 0.15) * h)), max(3, int(rng.uniform(0.06, 0.15) * w))
    cy, cx = int(rng.integers(ay, h - ay + 1)), int(rng.integers(ax, w - ax + 1))
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (cx, cy), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA)
    k = 2 * max(ay, ax) + 1
    flat = cv2.blur(image, (k, k), borderType=cv2.BORDER_REFLECT)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 1.0)[..., None]
    return (1 - alpha) * image + alpha * flat
