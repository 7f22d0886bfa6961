"""Render demo-line frames: a flange on a moving rubber belt, under an oblique light, seen by a noisy camera.

:class:`PartRenderer` precomputes everything heavy (part layers, belt, noise bank) at construction; one
frame then costs a shading pass on the part canvas, one warp and a few array operations. Rendering is a
pure function of the random generator, so the same generator serves the live source and the dataset writer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from app.sources.demo_defects import apply_defect
from app.sources.demo_part import PartBlueprint, PartLayers, build_blueprint
from app.sources.demo_textures import TextureBank

METAL_TINT = np.array([0.96, 0.99, 1.03], np.float32)  # aluminium is faintly blue-grey
_TINT_FROM_GREY = np.zeros((3, 3), np.float32)  # (grey, alpha, shadow) -> tinted RGB, for cv2.transform
_TINT_FROM_GREY[:, 0] = METAL_TINT
RAIL_FRACTION = 0.06  # height of each stainless guide rail at the top and bottom, fraction of image height
SHADOW_DEPTH = 0.55  # how much the part's shadow darkens the belt
NOISE_MARGIN = 96  # the noise bank is this much larger than the image; frames take random crops of it


@dataclass(frozen=True)
class LineVariation:
    """How much real parts, light and camera vary from frame to frame."""

    part_radius: float = 0.36  # flange radius as a fraction of min(width, height)
    shift: float = 0.05  # max part offset from the image centre, fraction of min(width, height)
    rotation_deg: float = 6.0  # max rotation of the part either way
    light_deg: float = 225.0  # mean direction the light comes from (image angle, y down): top-left
    light_jitter_deg: float = 12.0  # max change of the light direction either way
    gain: tuple[float, float] = (0.9, 1.1)  # range of global exposure/gain factor
    gradient: float = 0.08  # max brightness change across the image from uneven lighting
    vignetting: float = 0.12  # brightness loss in the image corners
    noise_floor: float = 1.0  # sensor noise std in grey levels at black (read noise)
    noise_slope: float = 0.012  # extra noise std per grey level of signal (photon noise, linearised)
    ambient: float = 0.9  # diffuse share of the light on the metal
    sheen: float = 0.14  # amplitude of the bow-tie highlight of the turned surface
    relief: float = 0.45  # brightness change per unit of surface slope towards the light
    variants: int = 3  # distinct sets of turning marks (parts are not all identical)


@dataclass(frozen=True)
class SceneParams:
    """Where the part is and how it is lit in one frame (everything but the defect)."""

    variant: int  # index of the part blueprint (turning marks)
    x: float  # part centre in the image, pixels
    y: float
    angle_deg: float  # part rotation, counter-clockwise
    light: float  # direction the light comes from, radians in image coordinates
    gain: float  # exposure/gain factor
    gradient: tuple[float, float]  # brightness slope along x and y (per half image)
    belt_offset: int  # how far the belt has run, pixels
    noise_offset: tuple[int, int]  # crop of the noise bank (y, x)


class RenderedPart(NamedTuple):
    """One rendered frame: ``image`` ``(H, W, 3)`` RGB uint8, ``mask`` ``(H, W)`` uint8 0/255."""

    image: np.ndarray
    mask: np.ndarray


class _Frame(NamedTuple):
    """Per-scene arrays shared by the clean and the defective render of a scene."""

    window: tuple[slice, slice]  # image region the part canvas can reach
    matrix: np.ndarray  # canvas -> window affine transform
    belt: np.ndarray  # (H, W, 3) belt at this position, 0..1
    light: np.ndarray  # (H, W, 3) exposure map in grey levels per unit reflectance
    noise_gain: np.ndarray  # (H, W, 3) multiplicative noise (photon noise)
    noise_add: np.ndarray  # (H, W, 3) additive noise (read noise), +0.5 for rounding


class PartRenderer:
    """Renders good and defective flanges on the belt; deterministic given the random generator.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        textures: Belt and contamination textures.
        variation: Frame-to-frame variation of part, light and camera.
        product_seed: Seed of the part's turning marks and the belt; fixed so every run shows the same
            product.
    """

    def __init__(
        self,
        width: int,
        height: int,
        *,
        textures: TextureBank,
        variation: LineVariation | None = None,
        product_seed: int = 2024,
    ) -> None:
        self.width, self.height = width, height
        self.textures = textures
        self.variation = v = variation or LineVariation()
        rng = np.random.default_rng(product_seed)
        radius = v.part_radius * min(width, height)
        self.blueprints = [build_blueprint(radius, rng) for _ in range(v.variants)]
        self._clean_relief = [_relief(bp.layers) for bp in self.blueprints]
        self._cos2 = [np.cos(2 * bp.theta_map) * bp.face for bp in self.blueprints]
        self._sin2 = [np.sin(2 * bp.theta_map) * bp.face for bp in self.blueprints]
        self._shadows = [_shadow(bp) for bp in self.blueprints]
        self._belt = _belt_strip(width, height, textures.belt())
        noise = rng.standard_normal((height + NOISE_MARGIN, width + NOISE_MARGIN, 3), dtype=np.float32)
        self._noise_gain = 1.0 + v.noise_slope * noise
        self._noise_add = v.noise_floor * noise + 0.5
        ys, xs = np.linspace(-1, 1, height, dtype=np.float32), np.linspace(-1, 1, width, dtype=np.float32)
        self._ys, self._xs = ys[:, None], xs[None, :]
        self._vignette = 255.0 * (1.0 - v.vignetting * (self._xs**2 + self._ys**2) / 2.0)

    def sample_scene(self, rng: np.random.Generator) -> SceneParams:
        """Draw pose, light and noise for one frame."""
        v, short = self.variation, min(self.width, self.height)
        return SceneParams(
            variant=int(rng.integers(v.variants)),
            x=self.width / 2 + rng.uniform(-1, 1) * v.shift * short,
            y=self.height / 2 + rng.uniform(-1, 1) * v.shift * short,
            angle_deg=rng.uniform(-1, 1) * v.rotation_deg,
            light=float(np.radians(v.light_deg + rng.uniform(-1, 1) * v.light_jitter_deg)),
            gain=rng.uniform(*v.gain),
            gradient=(rng.uniform(-1, 1) * v.gradient / 2, rng.uniform(-1, 1) * v.gradient / 2),
            belt_offset=int(rng.integers(self._belt.shape[1] - self.width + 1)),
            noise_offset=(int(rng.integers(NOISE_MARGIN + 1)), int(rng.integers(NOISE_MARGIN + 1))),
        )

    def render_part(self, rng: np.random.Generator, defect_kind: str | None = None) -> RenderedPart:
        """Draw a scene, then (for a defect) the defect, from ``rng`` and render them."""
        scene = self.sample_scene(rng)
        return self.render(scene, defect_kind, rng)

    def render(
        self, scene: SceneParams, defect_kind: str | None = None, rng: np.random.Generator | None = None
    ) -> RenderedPart:
        """Render ``scene``; with ``defect_kind``, add that defect (drawn from ``rng``) and its exact mask.

        The mask is the set of pixels whose value differs from the clean render of the same scene.

        Args:
            scene: Pose, light and noise, from :meth:`sample_scene`.
            defect_kind: One of ``DEFECT_KINDS``, or None for a good part.
            rng: Draws the defect's place, size and contrast (an unseeded generator if None).
        """
        bp = self.blueprints[scene.variant]
        frame = self._frame(scene)
        clean_window = self._window(scene, frame, bp.layers, self._clean_relief[scene.variant])
        image = frame.belt.copy()
        image[frame.window] = clean_window
        clean = _expose(image, frame.light, frame.noise_gain, frame.noise_add)
        mask = np.zeros((self.height, self.width), np.uint8)
        if defect_kind is None:
            return RenderedPart(clean, mask)
        layers = bp.layers.copy()
        apply_defect(defect_kind, layers, bp, rng or np.random.default_rng(), self.textures)
        w = frame.window
        window = self._window(scene, frame, layers, _relief(layers))
        exposed = _expose(window, frame.light[w], frame.noise_gain[w], frame.noise_add[w])
        changed = exposed ^ clean[w]
        mask[w] = cv2.compare(changed[..., 0] | changed[..., 1] | changed[..., 2], 0, cv2.CMP_NE)
        defective = clean.copy()
        defective[w] = exposed
        return RenderedPart(defective, mask)

    def _frame(self, scene: SceneParams) -> _Frame:
        size = self.blueprints[scene.variant].geometry.size
        m = self._matrix(scene)
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ m.T
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
        x1 = min(self.width, int(np.ceil(corners[:, 0].max())) + 1)
        y1 = min(self.height, int(np.ceil(corners[:, 1].max())) + 1)
        m[:, 2] -= (x0, y0)
        off = scene.belt_offset
        gx, gy = scene.gradient
        light = scene.gain * self._vignette * (1.0 + gx * self._xs + gy * self._ys)
        oy, ox = scene.noise_offset
        crop = (slice(oy, oy + self.height), slice(ox, ox + self.width))
        return _Frame(
            window=(slice(y0, y1), slice(x0, x1)),
            matrix=m,
            belt=self._belt[:, off : off + self.width],
            light=cv2.merge([light, light, light]),
            noise_gain=self._noise_gain[crop],
            noise_add=self._noise_add[crop],
        )

    def _window(self, scene: SceneParams, frame: _Frame, layers: PartLayers, relief: tuple) -> np.ndarray:
        """The window of the image the part covers, composited on the belt, reflectance units."""
        v, i = self.variation, scene.variant
        light = scene.light + np.radians(scene.angle_deg)  # the canvas is rotated by -angle in the image
        sheen = cv2.addWeighted(self._cos2[i], np.cos(2 * light), self._sin2[i], np.sin(2 * light), 0.0)
        slope = cv2.addWeighted(relief[0], np.cos(light), relief[1], np.sin(light), 0.0)
        grey = layers.albedo * (v.ambient + v.sheen * sheen) - v.relief * slope  # slopes facing the light
        cover = layers.alpha
        if layers.stain_alpha is not None:  # foreign matter hides the metal under it
            (x0, y0), (sh, sw) = layers.stain_origin, layers.stain_alpha.shape
            cover = cover.copy()
            cover[y0 : y0 + sh, x0 : x0 + sw] *= 1.0 - layers.stain_alpha
        h, w = frame.window[0].stop - frame.window[0].start, frame.window[1].stop - frame.window[1].start
        canvas = cv2.merge([grey * cover, layers.alpha, self._shadows[i]])
        part = cv2.warpAffine(canvas, frame.matrix, (w, h), flags=cv2.INTER_LINEAR)
        keep = (1.0 - part[..., 1]) * (1.0 - SHADOW_DEPTH * part[..., 2])
        # OpenCV for the 3-channel arithmetic: NumPy broadcasting over a strided window is several times slower
        belt = cv2.multiply(frame.belt[frame.window], cv2.merge([keep, keep, keep]))
        out = cv2.add(cv2.transform(part, _TINT_FROM_GREY), belt)
        if layers.stain is not None:
            _add_stain(out, layers, frame.matrix)
        return out

    def _matrix(self, scene: SceneParams) -> np.ndarray:
        c = self.blueprints[scene.variant].geometry.center
        m = cv2.getRotationMatrix2D((c, c), scene.angle_deg, 1.0)
        m[:, 2] += (scene.x - c, scene.y - c)
        return m


def _expose(
    image: np.ndarray, light: np.ndarray, noise_gain: np.ndarray, noise_add: np.ndarray
) -> np.ndarray:
    """Light, sensor noise and 8-bit quantisation. NumPy element-wise only: a window gives bit-identical
    pixels to the whole image, which keeps masks exact when only the window is re-rendered."""
    out = image * light
    out *= noise_gain
    out += noise_add
    np.clip(out, 0.0, 255.0, out=out)
    return out.astype(np.uint8)


def _add_stain(out: np.ndarray, layers: PartLayers, matrix: np.ndarray) -> None:
    """Warp the (premultiplied) stain crop into ``out``, touching only the pixels it can reach."""
    assert layers.stain is not None
    (x0, y0), (sh, sw) = layers.stain_origin, layers.stain.shape[:2]
    corners = np.array([[x0, y0, 1], [x0 + sw, y0, 1], [x0, y0 + sh, 1], [x0 + sw, y0 + sh, 1]]) @ matrix.T
    u0, v0 = np.maximum(np.floor(corners.min(0)).astype(int), 0)
    u1 = min(out.shape[1], int(np.ceil(corners[:, 0].max())) + 1)
    v1 = min(out.shape[0], int(np.ceil(corners[:, 1].max())) + 1)
    if u1 <= u0 or v1 <= v0:
        return
    m = matrix.copy()
    m[:, 2] += matrix[:, :2] @ (x0, y0) - (u0, v0)
    out[v0:v1, u0:u1] += cv2.warpAffine(layers.stain, m, (u1 - u0, v1 - v0), flags=cv2.INTER_LINEAR)


def _relief(layers: PartLayers) -> tuple[np.ndarray, np.ndarray]:
    """Surface slope ``(d height/dx, d height/dy)`` per pixel."""
    gx = cv2.Sobel(layers.height, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    gy = cv2.Sobel(layers.height, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    return gx, gy


def _shadow(bp: PartBlueprint) -> np.ndarray:
    """Soft shadow of the part on the belt, offset away from the top-left light, on the part canvas."""
    r = bp.geometry.radius
    shift = np.float32([[1, 0, 0.03 * r], [0, 1, 0.045 * r]])
    moved = cv2.warpAffine(bp.layers.alpha, shift, bp.layers.alpha.shape[::-1])
    return cv2.GaussianBlur(moved, (0, 0), 0.04 * r)


def _belt_strip(width: int, height: int, texture: np.ndarray) -> np.ndarray:
    """Belt between two guide rails, ``(H, W + period, 3)``: frames crop it at the belt's position."""
    grey = cv2.resize(texture.mean(axis=2), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    grey = (grey - grey.mean()) / (grey.std() + 1e-6)
    period = grey.shape[1]
    reps = (-(-height // grey.shape[0]), -(-(width + period) // period))
    tile = np.tile(grey, reps)[:height, : width + period]
    belt = 0.15 + 0.012 * tile  # dark rubber with a fine grain
    rail_h = max(2, int(RAIL_FRACTION * height))
    rows = np.arange(height)
    rail = (rows < rail_h) | (rows >= height - rail_h)
    brushed = cv2.GaussianBlur(tile.astype(np.float32), (0, 0), sigmaX=25, sigmaY=0.5)
    belt[rail] = 0.48 + 0.04 * brushed[rail]
    edge = (rows == rail_h) | (rows == height - rail_h - 1)
    belt[edge] = 0.06  # gap between rail and belt
    return np.repeat(belt[..., None], 3, axis=2).astype(np.float32) * np.array([1.0, 1.0, 0.98], np.float32)
