"""NumPy images to Qt images and pixmaps (copies: Qt never points into NumPy memory)."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap

from draem_core.imageio import to_uint8_rgb


def thumbnail(image: np.ndarray, max_w: int, max_h: int) -> np.ndarray:
    """``(h, w, 3)`` uint8 RGB no larger than ``max_w`` x ``max_h``, aspect kept (any frame kind accepted)."""
    rgb = to_uint8_rgb(image)
    h, w = rgb.shape[:2]
    scale = min(max_w / w, max_h / h, 1.0)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def to_qimage(image: np.ndarray) -> QImage:
    """A QImage holding its own copy of an RGB (or mono, or 16-bit) frame."""
    rgb = np.ascontiguousarray(to_uint8_rgb(image))
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(image: np.ndarray, max_w: int = 0, max_h: int = 0) -> QPixmap:
    """A pixmap of ``image``, scaled down to fit ``max_w`` x ``max_h`` when given (GUI thread only)."""
    small = thumbnail(image, max_w, max_h) if max_w and max_h else image
    return QPixmap.fromImage(to_qimage(small))


def scaled(pixmap: QPixmap, w: int, h: int) -> QPixmap:
    """``pixmap`` fitted into ``w`` x ``h`` with smooth scaling."""
    return pixmap.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
