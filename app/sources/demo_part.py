"""The product of the demo line: a turned aluminium flange, built once as float layers on a square canvas.

The flange has a central bore, four bolt holes on a pitch circle, a raised hub, a turned groove, chamfered
edges, a laser-marked part number and a 2D code. Everything the renderer and the defects need is a layer
on the same ``(S, S)`` float32 canvas: albedo (reflectance), height (pixels, for shading), alpha (part
coverage; holes are see-through) and the ink of the marking.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PART_NUMBER = "DRX-4127"  # the laser-marked text, the same on every part
INK_DARKENING = 0.62  # laser marking darkens the metal's reflectance by this fraction
BOLT_HOLE_ANGLES_DEG = (
    45.0,
    135.0,
    225.0,
    315.0,
)  # bolt-hole angles, 0 = +x, y down; top/bottom hold the marking


@dataclass(frozen=True)
class PartGeometry:
    """Where the features of the flange lie, in canvas pixels (origin top-left, y down).

    Attributes:
        size: Side of the square canvas.
        radius: Outer radius of the flange.
        bore_radius: Radius of the central through-bore.
        hub_radius: Radius of the raised hub around the bore.
        groove_radius: Radius of the turned V-groove.
        chamfer: Width of the 45-degree chamfers on the outer edge and the holes.
        holes: ``(x, y, r)`` of each bolt hole.
        text_box: ``(x0, y0, x1, y1)`` of the laser-marked part number.
        code_box: ``(x0, y0, x1, y1)`` of the 2D code.
    """

    size: int
    radius: float
    bore_radius: float
    hub_radius: float
    groove_radius: float
    chamfer: float
    holes: tuple[tuple[float, float, float], ...]
    text_box: tuple[int, int, int, int]
    code_box: tuple[int, int, int, int]

    @property
    def center(self) -> float:
        """Canvas coordinate of the flange centre (same for x and y)."""
        return (self.size - 1) / 2.0


@dataclass
class PartLayers:
    """Float32 ``(S, S)`` layers of one part; defects edit copies of them.

    Attributes:
        albedo: Reflectance of the surface, about 0..1 (marking included).
        height: Surface height in pixels; shading comes from its gradient.
        alpha: Coverage 0..1 (0 outside the flange and inside through-holes).
        stain: Optional ``(h, w, 3)`` colour of foreign matter lying on the part, premultiplied by
            ``stain_alpha`` (which already includes the part's coverage); None when clean.
        stain_alpha: Optional ``(h, w)`` coverage of ``stain``.
        stain_origin: Canvas ``(x, y)`` of the top-left corner of ``stain``.
    """

    albedo: np.ndarray
    height: np.ndarray
    alpha: np.ndarray
    stain: np.ndarray | None = None
    stain_alpha: np.ndarray | None = None
    stain_origin: tuple[int, int] = (0, 0)

    def copy(self) -> PartLayers:
        """A deep copy (defects must never edit the shared clean layers)."""
        return PartLayers(self.albedo.copy(), self.height.copy(), self.alpha.copy())


@dataclass(frozen=True)
class PartBlueprint:
    """The product, precomputed once: geometry, clean layers and what defects restore from.

    Attributes:
        geometry: Feature positions.
        layers: Clean layers of a good part (shared; never edit in place).
        blank_albedo: Albedo without marking (what a missing print reveals).
        blank_height: Height without bolt holes (what a missing hole shows).
        face: Coverage of the flange disc without any hole.
        radius_map: Distance of each canvas pixel from the centre.
        theta_map: Angle of each canvas pixel around the centre, radians.
    """

    geometry: PartGeometry
    layers: PartLayers
    blank_albedo: np.ndarray
    blank_height: np.ndarray
    face: np.ndarray
    radius_map: np.ndarray
    theta_map: np.ndarray


def make_geometry(radius: float) -> PartGeometry:
    """Lay out the flange features for an outer radius in pixels."""
    size = int(np.ceil(radius * 2.3)) | 1  # odd, with room for the shadow and the rotation
    c = (size - 1) / 2.0
    pitch, hole_r = 0.70 * radius, 0.085 * radius
    holes = tuple(
        (c + pitch * np.cos(np.radians(a)), c + pitch * np.sin(np.radians(a)), hole_r)
        for a in BOLT_HOLE_ANGLES_DEG
    )
    text_half_w, text_half_h = 0.26 * radius, 0.055 * radius
    text_y = c + 0.58 * radius
    text_box = (
        int(c - text_half_w),
        int(text_y - text_half_h),
        int(c + text_half_w),
        int(text_y + text_half_h),
    )
    code_half = 0.11 * radius
    code_y = c - 0.63 * radius
    code_box = (int(c - code_half), int(code_y - code_half), int(c + code_half), int(code_y + code_half))
    return PartGeometry(
        size=size,
        radius=radius,
        bore_radius=0.20 * radius,
        hub_radius=0.34 * radius,
        groove_radius=0.47 * radius,
        chamfer=max(1.5, 0.035 * radius),
        holes=holes,
        text_box=text_box,
        code_box=code_box,
    )


def build_blueprint(radius: float, rng: np.random.Generator) -> PartBlueprint:
    """Build the clean part: turned-metal albedo, relief, holes and marking.

    Args:
        radius: Outer radius of the flange in pixels.
        rng: Randomness of the turning marks (fixed per blueprint, so good parts look alike).
    """
    geo = make_geometry(radius)
    yy, xx = np.mgrid[0 : geo.size, 0 : geo.size].astype(np.float32)
    dx, dy = xx - geo.center, yy - geo.center
    r = np.sqrt(dx * dx + dy * dy)
    theta = np.arctan2(dy, dx)
    face = np.clip(geo.radius - r + 0.5, 0.0, 1.0)
    blank_albedo = _turned_metal(r, theta, geo.radius, rng) * face
    blank_height = _relief_without_holes(r, geo)
    height, alpha = blank_height.copy(), face * np.clip(r - geo.bore_radius + 0.5, 0.0, 1.0)
    for hx, hy, hr in geo.holes:
        rk = np.sqrt((xx - hx) ** 2 + (yy - hy) ** 2)
        height += _chamfer_into(rk, hr, geo.chamfer)
        alpha *= np.clip(rk - hr + 0.5, 0.0, 1.0)
    albedo = blank_albedo * (1.0 - INK_DARKENING * _marking_ink(geo))
    layers = PartLayers(albedo.astype(np.float32), height.astype(np.float32), alpha.astype(np.float32))
    return PartBlueprint(geo, layers, blank_albedo, blank_height, face, r, theta)


def _turned_metal(r: np.ndarray, theta: np.ndarray, radius: float, rng: np.random.Generator) -> np.ndarray:
    """Albedo of a lathe-turned face: fine concentric rings plus tangential streaks."""
    n_r = int(radius * 3) + 8  # radial samples at 1/3 pixel: the rings are finer than a pixel
    fine = cv2.GaussianBlur(rng.standard_normal((1, n_r)).astype(np.float32), (0, 0), 1.0).ravel()
    broad = cv2.GaussianBlur(rng.standard_normal((1, n_r)).astype(np.float32), (0, 0), 25.0).ravel()
    profile = 0.62 + 0.035 * fine / (fine.std() + 1e-6) + 0.02 * broad / (broad.std() + 1e-6)
    rings = np.interp(r.ravel() * 3.0, np.arange(n_r), profile).reshape(r.shape)
    n_t = 1024  # angular samples of the streak texture, blurred along the angle so streaks run tangentially
    streaks = cv2.GaussianBlur(
        rng.standard_normal((n_t, n_r)).astype(np.float32), (0, 0), sigmaX=0.8, sigmaY=40
    )
    streaks *= 0.03 / (streaks.std() + 1e-6)
    map_x = (r * 3.0).astype(np.float32)
    map_y = ((theta + np.pi) * (n_t / (2 * np.pi))).astype(np.float32)
    rings += cv2.remap(streaks, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return rings.astype(np.float32)


def _chamfer_into(r: np.ndarray, hole_radius: float, chamfer: float) -> np.ndarray:
    """Height of a 45-degree chamfer sloping down into a hole of ``hole_radius``."""
    return -np.clip(hole_radius + chamfer - r, 0.0, chamfer)


def _relief_without_holes(r: np.ndarray, geo: PartGeometry) -> np.ndarray:
    """Outer chamfer, raised hub, turned V-groove and bore chamfer (the bolt holes are added apart)."""
    c = geo.chamfer
    height = -np.clip(r - (geo.radius - c), 0.0, c)  # outer edge slopes down
    height += 2.0 * np.clip((geo.hub_radius - r) / 1.5 + 0.5, 0.0, 1.0)  # hub stands 2 px proud
    height -= np.clip(0.6 * c - np.abs(r - geo.groove_radius), 0.0, None)  # V-groove
    height += _chamfer_into(r, geo.bore_radius, c)
    return height.astype(np.float32)


def _marking_ink(geo: PartGeometry) -> np.ndarray:
    """Ink coverage 0..1 of the laser-marked part number and 2D code, anti-aliased by 4x supersampling."""
    up = 4
    big = np.zeros((geo.size * up, geo.size * up), np.uint8)
    x0, y0, x1, y1 = (v * up for v in geo.text_box)
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_SIMPLEX, y1 - y0, max(1, up))
    (tw, th), _ = cv2.getTextSize(PART_NUMBER, cv2.FONT_HERSHEY_SIMPLEX, scale, up)
    scale *= min(1.0, (x1 - x0) / tw)
    (tw, th), _ = cv2.getTextSize(PART_NUMBER, cv2.FONT_HERSHEY_SIMPLEX, scale, up)
    org = ((x0 + x1 - tw) // 2, (y0 + y1 + th) // 2)
    cv2.putText(big, PART_NUMBER, org, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, up, cv2.LINE_AA)
    _draw_code(big, [v * up for v in geo.code_box])
    return cv2.resize(big, (geo.size, geo.size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _draw_code(canvas: np.ndarray, box: list[int]) -> None:
    """A 12x12 DataMatrix-like code: solid L finder, dotted clock edges, fixed data modules."""
    n = 12
    x0, y0, x1, y1 = box
    cell = (x1 - x0) / n
    data = np.random.default_rng(4127).random((n, n)) < 0.5  # fixed: the same code on every part
    data[:, 0] = data[-1, :] = True  # L finder (left and bottom)
    data[0, :] = np.arange(n) % 2 == 0  # clock track (top)
    data[:, -1] = np.arange(n) % 2 == 1  # clock track (right)
    for i, j in zip(*np.nonzero(data), strict=True):
        p0 = (int(x0 + j * cell), int(y0 + i * cell))
        p1 = (int(x0 + (j + 1) * cell) - 1, int(y0 + (i + 1) * cell) - 1)
        cv2.rectangle(canvas, p0, p1, 255, -1)
