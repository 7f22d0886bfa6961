"""Part alignment: bring every frame's part into the pose of a reference part before the region is cropped.

Parts on a line are never in exactly the same place: they shift and turn a little on the belt or fixture. A small
reconstruction network cannot learn to redraw features that move (a marking, a hole) precisely, so the detector
learns to ignore them, and a missing marking goes unseen. A model trained with alignment stores a reference
frame (grey, downscaled); each frame is registered to it with OpenCV's ECC (rotation + translation, coarse to
fine) over the inspection region, and the region is cut out of the frame in the reference pose. Anomaly maps
are mapped back into the frame, so overlays lie on the part where it really is.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from draem_core.imageheader import image_size
from draem_core.region import RegionError, Roi, crop

ALIGN_SCALE = 0.25  # the reference and the registration work at a quarter of the frame size
_LEVELS = (0.5, 1.0)  # coarse-to-fine: half the working scale first, then the working scale
_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
_MIN_CORRELATION = 0.5  # below this the frame does not show the reference part in a nearby pose


class AlignmentError(RegionError):
    """A frame could not be registered to the model's reference part."""


@dataclass(frozen=True)
class Aligner:
    """The reference part of an aligned model and how to register frames to it.

    Attributes:
        reference: ``(h, w)`` uint8 grey reference frame at ``scale`` of the full frame.
        frame_shape: ``(H, W)`` of the full frames the model expects.
        roi: The inspection region ``(x, y, w, h)`` in the reference frame; registration uses only it.
        scale: Size of ``reference`` relative to the frame.
    """

    reference: np.ndarray
    frame_shape: tuple[int, int]
    roi: Roi
    scale: float = ALIGN_SCALE

    @classmethod
    def from_frame(cls, frame: np.ndarray, roi: Roi, scale: float = ALIGN_SCALE) -> Aligner:
        """An aligner whose reference pose is that of the part in ``frame`` (RGB or grey, any dtype)."""
        return cls(_grey_small(frame, scale), tuple(frame.shape[:2]), tuple(int(v) for v in roi), scale)

    def to_dict(self) -> dict:
        ok, png = cv2.imencode(".png", self.reference)
        if not ok:  # pragma: no cover - encoding a uint8 image does not fail
            raise AlignmentError("could not encode the alignment reference")
        return {"reference_png": base64.b64encode(png.tobytes()).decode("ascii"), "scale": self.scale,
                "frame_shape": list(self.frame_shape), "roi": list(self.roi)}  # fmt: skip

    @classmethod
    def from_dict(cls, doc: dict) -> Aligner:
        """Raises AlignmentError: the stored reference is not a readable image."""
        try:
            data = base64.b64decode(doc["reference_png"], validate=True)
            shape, roi, scale = tuple(int(v) for v in doc["frame_shape"]), doc["roi"], float(doc["scale"])
            width, height = image_size(io.BytesIO(data))
            if width * height > shape[0] * shape[1]:  # the reference is the frame scaled down, never larger
                raise ValueError(f"a {width}x{height} reference for {shape[1]}x{shape[0]} frames")
            ref = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        except (KeyError, TypeError, ValueError, IndexError, cv2.error) as exc:
            raise AlignmentError(f"the model's alignment reference is unreadable ({exc})") from exc
        if ref is None or len(shape) != 2:
            raise AlignmentError("the model's alignment reference is not a valid image")
        return cls(ref, shape, tuple(int(v) for v in roi), scale)

    def matrix(self, frame: np.ndarray) -> np.ndarray:
        """2x3 matrix taking reference-frame coordinates to ``frame`` coordinates (full resolution).

        Raises:
            AlignmentError: the frame has another size than the reference, or ECC does not find the part.
        """
        if tuple(frame.shape[:2]) != self.frame_shape:
            h, w = self.frame_shape
            msg = f"{frame.shape[1]}x{frame.shape[0]} frame; the model aligns {w}x{h} frames"
            raise AlignmentError(msg)
        moving = _grey_small(frame, self.scale).astype(np.float32)
        warp = np.eye(2, 3, dtype=np.float32)
        rho, prev = 0.0, None
        for f, ref, mask in self._levels:
            mov = moving if f == 1 else cv2.resize(moving, ref.shape[::-1], interpolation=cv2.INTER_AREA)
            if prev is not None:
                warp[:, 2] *= f / prev  # the translation found at the coarser level, in this level's pixels
            prev = f
            try:
                rho, warp = cv2.findTransformECC(ref, mov, warp, cv2.MOTION_EUCLIDEAN, _ECC_CRITERIA, mask, 3)
            except cv2.error as exc:
                raise AlignmentError(
                    f"could not align the frame to the model's reference part ({exc.msg})"
                ) from exc
        if rho < _MIN_CORRELATION:
            msg = (
                f"the frame does not match the model's reference part (correlation {rho:.2f} after alignment)"
            )
            raise AlignmentError(msg)
        rot, shift = warp[:, :2].astype(np.float64), warp[:, 2].astype(np.float64)
        centre = 0.5 - 0.5 / self.scale  # small pixel i covers full pixels around (i + 0.5) / scale - 0.5
        return np.column_stack([rot, shift / self.scale + (rot - np.eye(2)) @ np.array([centre, centre])])

    @cached_property
    def _levels(self) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """Per level: its factor, the float reference and the region mask (built once, not per frame)."""
        levels = []
        for f in _LEVELS:
            ref = self.reference
            if f != 1:
                ref = cv2.resize(ref, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            x, y, w, h = (round(v * self.scale * f) for v in self.roi)
            mask = np.zeros(ref.shape[:2], np.uint8)
            mask[y : y + h, x : x + w] = 255
            levels.append((f, ref.astype(np.float32), mask))
        return levels


def region_matrix(matrix: np.ndarray, roi: Roi) -> np.ndarray:
    """2x3 matrix taking pixel ``(u, v)`` of the aligned region to frame coordinates."""
    m = np.asarray(matrix, np.float64).copy()
    m[:, 2] += m[:, :2] @ np.array([roi[0], roi[1]], np.float64)
    return m


def cut_region(
    frame: np.ndarray, roi: Roi | None, matrix: np.ndarray | None, nearest: bool = False
) -> np.ndarray:
    """The ``roi`` window of ``frame``: cut out in the reference pose when ``matrix`` is given, else a crop."""
    if matrix is None or roi is None:
        return crop(frame, roi)
    return aligned_crop(frame, matrix, roi, nearest)


def aligned_crop(frame: np.ndarray, matrix: np.ndarray, roi: Roi, nearest: bool = False) -> np.ndarray:
    """The ``roi`` window of the reference pose cut out of ``frame`` (same dtype and channels)."""
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    m = region_matrix(matrix, roi)
    return cv2.warpAffine(frame, m, (int(roi[2]), int(roi[3])), flags=interp | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip


def map_to_frame(
    region_map: np.ndarray, matrix: np.ndarray, roi: Roi, frame_shape: tuple[int, ...]
) -> np.ndarray:
    """An anomaly map of the aligned region placed where that region lies in the frame (zero elsewhere)."""
    m = region_matrix(matrix, roi)
    h, w = frame_shape[:2]
    return cv2.warpAffine(region_map.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)  # fmt: skip


def _grey_small(frame: np.ndarray, scale: float) -> np.ndarray:
    img = frame
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.shape[2] == 3 else img[..., 0]
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
