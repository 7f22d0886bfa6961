"""Heatmap overlays of anomaly maps on images, shared by the app, ``predict`` and the contact sheet."""

from __future__ import annotations

import cv2
import numpy as np

from draem_core.imageio import to_uint8_rgb

COLORMAP = cv2.COLORMAP_TURBO  # perceptually ordered; blue = 0, dark red = 1 on a fixed 0..1 scale
CONTOUR_RGB = (255, 255, 255)  # outline of the region above the threshold; white stands out on TURBO


def colorize(anomaly_map: np.ndarray, colormap: int = COLORMAP) -> np.ndarray:
    """``(H, W)`` map in 0..1 (clipped; NaN counts as 0) to ``(H, W, 3)`` RGB uint8 on a fixed scale."""
    values = np.nan_to_num(np.asarray(anomaly_map, dtype=np.float32), nan=0.0)
    levels = np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, colormap), cv2.COLOR_BGR2RGB)


def heatmap_overlay(
    image_rgb: np.ndarray,
    anomaly_map: np.ndarray,
    alpha: float = 0.5,
    threshold: float | None = None,
    colormap: int = COLORMAP,
) -> np.ndarray:
    """Blend a coloured anomaly map over an image, optionally outlining where the map reaches a threshold.

    Args:
        image_rgb: ``(H, W, 3)`` RGB uint8 (mono, 16-bit and RGBA are converted).
        anomaly_map: ``(h, w)`` float in 0..1; resized (bilinear) to the image size when it differs.
        alpha: weight of the heatmap, 0 = image only, 1 = heatmap only.
        threshold: if given, contours of ``map >= threshold`` are drawn.
        colormap: an OpenCV colormap id.

    Returns:
        ``(H, W, 3)`` RGB uint8, a new array.
    """
    if not 0.0 <= alpha <= 1.0:
        msg = f"alpha {alpha} is not inside [0, 1]"
        raise ValueError(msg)
    image = to_uint8_rgb(image_rgb)
    amap = np.asarray(anomaly_map, dtype=np.float32)
    if amap.ndim != 2:
        msg = f"anomaly map must be (H, W), got shape {amap.shape}"
        raise ValueError(msg)
    height, width = image.shape[:2]
    if amap.shape != (height, width):
        amap = cv2.resize(amap, (width, height), interpolation=cv2.INTER_LINEAR)
    out = cv2.addWeighted(image, 1.0 - alpha, colorize(amap, colormap), alpha, 0.0)
    if threshold is not None:
        draw_contours(out, amap >= threshold)
    return out


def draw_contours(image: np.ndarray, region: np.ndarray) -> None:
    """Outline ``region`` (``(H, W)`` bool) on ``image`` in place, line width scaled to the image size."""
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    thickness = max(1, round(min(image.shape[:2]) / 256))
    cv2.drawContours(
        image, contours, -1, CONTOUR_RGB, thickness, lineType=cv2.LINE_8
    )  # crisp: AA washes out 1 px lines
