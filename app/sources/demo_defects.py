"""Defects of the demo flange: each edits copies of the part layers in canvas coordinates.

A defect changes reflectance, relief (seen through shading), coverage or adds foreign matter, so it is
rendered by the same lighting, warp and noise as the part; the ground-truth mask is then exactly the
pixels it changed. Sizes scale with the part radius so defects cover about 0.1-3 % of the image.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from app.sources.demo_part import PartBlueprint, PartLayers
from app.sources.demo_textures import TextureBank

SUPERSAMPLE = 4  # strokes are drawn at 4x and averaged down, giving sub-pixel widths with smooth edges
STAIN_COLOURS = (  # RGB of foreign matter: oil, dust, rust, coolant residue
    (0.22, 0.16, 0.09),
    (0.78, 0.76, 0.72),
    (0.55, 0.30, 0.14),
    (0.50, 0.55, 0.40),
)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) on the canvas
DefectFn = Callable[[PartLayers, PartBlueprint, np.random.Generator, TextureBank], None]


def _point_on_face(rng: np.random.Generator, bp: PartBlueprint, r_min: float, r_max: float) -> np.ndarray:
    geo = bp.geometry
    r = geo.radius * np.sqrt(rng.uniform(r_min**2, r_max**2))  # uniform over the annulus area
    t = rng.uniform(0.0, 2.0 * np.pi)
    return np.array([geo.center + r * np.cos(t), geo.center + r * np.sin(t)])


def _stroke(size: int, lines: list[np.ndarray], width: float) -> np.ndarray:
    """Coverage 0..1 of polylines of ``width`` pixels on a ``(size, size)`` canvas."""
    pts = np.concatenate(lines)
    pad = width + 2
    x0, y0 = np.maximum(np.floor(pts.min(0) - pad).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(pts.max(0) + pad).astype(int), size)
    big = np.zeros(((y1 - y0) * SUPERSAMPLE, (x1 - x0) * SUPERSAMPLE), np.uint8)
    thickness = max(1, round(width * SUPERSAMPLE))
    for line in lines:
        p = np.round((line - [x0, y0]) * SUPERSAMPLE).astype(np.int32)
        cv2.polylines(big, [p], False, 255, thickness, cv2.LINE_AA)
    out = np.zeros((size, size), np.float32)
    small = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    out[y0:y1, x0:x1] = small.astype(np.float32) / 255.0
    return out


def _bezier(p0: np.ndarray, p1: np.ndarray, bend: float, n: int = 24) -> np.ndarray:
    """Quadratic curve from ``p0`` to ``p1`` bowed sideways by ``bend`` pixels."""
    d = p1 - p0
    ctrl = (p0 + p1) / 2 + bend * np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6)
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def scratch(layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank) -> None:
    """A tool or handling scratch: a thin curved groove, brighter (fresh metal) or darker than the face."""
    R = bp.geometry.radius
    p0 = _point_on_face(rng, bp, 0.25, 0.75)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    p1 = p0 + rng.uniform(0.5, 1.4) * R * np.array([np.cos(angle), np.sin(angle)])
    width = rng.uniform(1.5, 3.0) * max(1.0, R / 173.0)
    line = _stroke(bp.geometry.size, [_bezier(p0, p1, rng.uniform(-0.12, 0.12) * R)], width) * bp.face
    sign = 1.0 if rng.random() < 0.65 else -1.0
    layers.albedo *= 1.0 + sign * rng.uniform(0.22, 0.55) * line
    layers.height -= 0.7 * width * line


def crack(layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank) -> None:
    """A fatigue crack running from the rim of a hole: a dark jagged line, sometimes branched."""
    geo = bp.geometry
    hx, hy, hr = geo.holes[int(rng.integers(len(geo.holes)))]
    out = np.array([hx - geo.center, hy - geo.center]) / np.hypot(hx - geo.center, hy - geo.center)
    heading = np.arctan2(out[1], out[0]) + rng.uniform(-2.2, 2.2)  # any direction away from the centre side
    start = np.array([hx, hy]) + (hr + 0.5) * np.array([np.cos(heading), np.sin(heading)])
    main = _random_walk(rng, start, heading, rng.uniform(0.35, 0.7) * geo.radius)
    lines = [main]
    if rng.random() < 0.6:
        fork = main[int(rng.integers(len(main) // 3, len(main)))]
        lines.append(_random_walk(rng, fork, heading + rng.choice([-0.8, 0.8]), 0.3 * geo.radius))
    line = _stroke(geo.size, lines, rng.uniform(1.2, 2.0)) * bp.face
    layers.albedo *= 1.0 - rng.uniform(0.45, 0.8) * line
    layers.height -= 1.5 * line


def _random_walk(rng: np.random.Generator, start: np.ndarray, heading: float, length: float) -> np.ndarray:
    steps = max(4, int(length / 3.0))
    turns = heading + np.cumsum(rng.normal(0.0, 0.35, steps))
    moves = 3.0 * np.stack([np.cos(turns), np.sin(turns)], axis=1)
    return np.vstack([start, start + np.cumsum(moves, axis=0)])


def dent(layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank) -> None:
    """A dent from a knock: a round depression, seen as a light/dark pair under the oblique light."""
    geo = bp.geometry
    cx, cy = _point_on_face(rng, bp, 0.3, 0.88)
    rho = rng.uniform(0.06, 0.15) * geo.radius
    x0, y0, x1, y1 = _box_around(cx, cy, rho + 1, geo.size)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    q = np.clip(1.0 - ((xx - cx) ** 2 + (yy - cy) ** 2) / rho**2, 0.0, None) ** 2  # smooth, zero past rho
    depth = rng.uniform(0.5, 1.0) * rho
    layers.height[y0:y1, x0:x1] -= depth * q
    layers.albedo[y0:y1, x0:x1] *= 1.0 - rng.uniform(0.0, 0.2) * q  # scuffed bottom


def contamination(
    layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank
) -> None:
    """Foreign matter on the face: an irregular stain or deposit textured from a CC0 image."""
    geo = bp.geometry
    cx, cy = _point_on_face(rng, bp, 0.25, 0.85)
    rho = rng.uniform(0.07, 0.24) * geo.radius
    x0, y0, x1, y1 = _box_around(cx, cy, rho, geo.size)
    shape = _blob(rng, cx - x0, cy - y0, rho, (y1 - y0, x1 - x0))
    patch = textures.patch(rng, max(y1 - y0, x1 - x0))[: y1 - y0, : x1 - x0]
    grey = patch.mean(axis=2, keepdims=True)
    grain = (grey - grey.mean()) / (grey.std() + 0.05)  # the texture's structure, whatever its contrast
    colour = np.asarray(STAIN_COLOURS[int(rng.integers(len(STAIN_COLOURS)))], np.float32)
    tint = colour * np.clip(1.0 + 0.3 * grain, 0.3, 1.8)
    a = shape * rng.uniform(0.6, 0.95) * layers.alpha[y0:y1, x0:x1]  # nothing lies over a through-hole
    layers.stain = (tint * a[..., None]).astype(np.float32)
    layers.stain_alpha = a.astype(np.float32)
    layers.stain_origin = (x0, y0)


def _blob(rng: np.random.Generator, cx: float, cy: float, rho: float, shape: tuple[int, int]) -> np.ndarray:
    """Irregular soft-edged blob of radius about ``rho`` around ``(cx, cy)``, coverage 0..1."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    d2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / rho**2
    noise = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), max(1.0, rho / 4))
    noise /= noise.std() + 1e-6
    field = 1.0 - d2 + 0.35 * noise
    return np.clip(field * 4.0, 0.0, 1.0) * (d2 < 1.0)


def missing_hole(
    layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank
) -> None:
    """A bolt hole that was never drilled: plain face where hole and chamfer should be."""
    geo = bp.geometry
    hx, hy, hr = geo.holes[int(rng.integers(len(geo.holes)))]
    x0, y0, x1, y1 = _box_around(hx, hy, hr + geo.chamfer + 2, geo.size)
    layers.albedo[y0:y1, x0:x1] = bp.blank_albedo[y0:y1, x0:x1]
    layers.height[y0:y1, x0:x1] = bp.blank_height[y0:y1, x0:x1]
    layers.alpha[y0:y1, x0:x1] = bp.face[y0:y1, x0:x1]


def missing_print(
    layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank
) -> None:
    """Marking fault: part number or 2D code missing, partly missing (a band) or faded."""
    geo = bp.geometry
    x0, y0, x1, y1 = geo.text_box if rng.random() < 0.6 else geo.code_box
    pad = 2
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    variant = rng.choice(["missing", "band", "faded"])
    if variant == "band":  # a band of the marking is gone: a laser or print-head dropout
        w = x1 - x0
        bw = int(w * rng.uniform(0.35, 0.6))
        x0 = x0 + int(rng.integers(0, w - bw + 1))
        x1 = x0 + bw
    keep = rng.uniform(0.15, 0.4) if variant == "faded" else 0.0
    blank = bp.blank_albedo[y0:y1, x0:x1]
    layers.albedo[y0:y1, x0:x1] = blank + keep * (layers.albedo[y0:y1, x0:x1] - blank)


def _box_around(cx: float, cy: float, half: float, size: int) -> Box:
    x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
    return x0, y0, min(size, int(np.ceil(cx + half)) + 1), min(size, int(np.ceil(cy + half)) + 1)


DEFECTS: dict[str, DefectFn] = {
    "scratch": scratch,
    "crack": crack,
    "dent": dent,
    "contamination": contamination,
    "missing_hole": missing_hole,
    "missing_print": missing_print,
}
DEFECT_KINDS: tuple[str, ...] = tuple(DEFECTS)  # every kind, in a fixed order


def apply_defect(
    kind: str, layers: PartLayers, bp: PartBlueprint, rng: np.random.Generator, textures: TextureBank
) -> None:
    """Apply one defect of ``kind`` to ``layers`` (a copy), drawing its size, place and contrast from ``rng``.

    Raises:
        ValueError: ``kind`` is not one of :data:`DEFECT_KINDS`.
    """
    if kind not in DEFECTS:
        msg = f"unknown defect kind {kind!r}; expected one of {', '.join(DEFECT_KINDS)}"
        raise ValueError(msg)
    DEFECTS[kind](layers, bp, rng, textures)
