"""The live image: frame, anomaly heatmap on a fixed 0..1 scale, outlines of NG regions, an editable ROI.

Layers in one pyqtgraph ViewBox (zoom with the wheel, pan by dragging, double-click to fit): the frame
``ImageItem``; above it the heatmap ``ImageItem`` with a colormap whose transparency rises with the anomaly
value (good regions stay clear), ``levels=(0, 1)`` and ``autoLevels=False``; above that the outlines of the
regions over the threshold and the inspection ROI (``pg.RectROI``).
"""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal

from app.gui.settings import OverlayOptions
from app.gui.theme import ACCENT, MUTED
from app.pipeline import LiveResult
from draem_core.inspector import Roi
from draem_core.verdict import NOT_JUDGED

HEAT_CLEAR_BELOW = 0.3  # anomaly values below this are fully transparent (the part is seen as it is)
HEAT_OPAQUE_ABOVE = 0.7  # and from this value on fully coloured (0.5 = the detector's own boundary)
OUTLINE_PEN = pg.mkPen("#ffffff", width=2, cosmetic=True)  # cosmetic: 2 screen pixels at any zoom
REGION_PEN = pg.mkPen(MUTED, width=1, style=Qt.PenStyle.DotLine, cosmetic=True)  # the model's inspection region
MIN_OUTLINE_LEVEL = 0.05  # outline level bounds: a threshold near 0 or 1 would outline all or nothing
MAX_OUTLINE_LEVEL = 0.95


def heat_lut(colormap: str) -> np.ndarray:
    """``(256, 4)`` uint8 RGBA lookup table: the colormap with alpha rising from clear to opaque."""
    rgb = pg.colormap.get(colormap).getLookupTable(0.0, 1.0, 256, alpha=False)
    values = np.linspace(0.0, 1.0, 256)
    alpha = np.clip((values - HEAT_CLEAR_BELOW) / (HEAT_OPAQUE_ABOVE - HEAT_CLEAR_BELOW), 0.0, 1.0)
    return np.concatenate([rgb[:, :3], (alpha * 255).astype(np.uint8)[:, None]], axis=1).astype(np.uint8)


def outline_path(amap: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """x, y of the contours of ``amap >= level`` as closed polylines separated by NaN (pixel-centre coords)."""
    mask = (amap >= level).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    parts = []
    for c in contours:
        pts = c[:, 0, :].astype(np.float64) + 0.5
        parts.append(np.vstack([pts, pts[:1], [np.nan, np.nan]]))
    if not parts:
        return np.empty(0), np.empty(0)
    xy = np.vstack(parts)
    return xy[:, 0], xy[:, 1]


def display_levels(image: np.ndarray) -> tuple[int, int]:
    """Black and white levels for a uint8 or uint16 frame (10/12-bit data in 16-bit containers scaled)."""
    if image.dtype == np.uint8:
        return 0, 255
    bits = max(8, int(image.max()).bit_length())
    return 0, (1 << bits) - 1


class LiveView(pg.GraphicsLayoutWidget):
    """Shows the newest frame with its result; the owner calls :meth:`show_live` from its refresh timer."""

    roiChanged = Signal(object)  # (x, y, w, h) in frame pixels, after the user finished moving it

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.01)
        self.frame_item = pg.ImageItem(axisOrder="row-major")
        self.frame_item.setAutoDownsample(True)
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setAutoDownsample(True)
        self.heat_item.setZValue(10)
        self.outline = pg.PlotCurveItem(pen=OUTLINE_PEN, connect="finite")
        self.outline.setZValue(20)
        self.region = pg.PlotCurveItem(pen=REGION_PEN)  # where the model looks, when no operator ROI is set
        self.region.setZValue(15)
        self._region: Roi | None = None
        self.placeholder = pg.TextItem("NO SIGNAL", color=MUTED, anchor=(0.5, 0.5))
        self.placeholder.setFont(_font(22))
        self.placeholder.setPos(320, 240)
        for item in (self.frame_item, self.heat_item, self.region, self.outline, self.placeholder):
            self.view.addItem(item)
        self.roi = pg.RectROI([0, 0], [100, 100], pen=pg.mkPen(ACCENT, width=2, style=Qt.PenStyle.DashLine),
                              hoverPen=pg.mkPen(ACCENT, width=3), rotatable=False)  # fmt: skip
        self.roi.setZValue(30)
        self.roi.addScaleHandle([0, 0], [1, 1])
        self.roi.sigRegionChangeFinished.connect(self._roi_moved)
        self.roi_enabled = False
        self.options = OverlayOptions()
        self._shape: tuple[int, ...] | None = None
        self._seq = -1
        self._pending_roi: Roi | None = None
        self.set_overlay(self.options)
        self.view.setRange(xRange=(0, 640), yRange=(0, 480), padding=0)

    # --- overlay and ROI ---------------------------------------------------------------------------

    def set_overlay(self, options: OverlayOptions) -> None:
        """Apply heatmap/outline options (takes effect at once, also on the frame shown)."""
        self.options = options
        self.heat_item.setLookupTable(heat_lut(options.colormap))
        self.heat_item.setOpacity(options.opacity)
        self.heat_item.setVisible(options.heatmap)
        self.outline.setVisible(options.outline)

    def set_roi_enabled(self, on: bool, roi: Roi | None = None) -> None:
        """Show the ROI rectangle (at ``roi``, else the central 80 % of the frame) or hide it."""
        self.roi_enabled = on
        if on:
            if self.roi.scene() is None:
                self.view.addItem(self.roi)
            self._place_roi(roi)
        elif self.roi.scene() is not None:
            self.view.removeItem(self.roi)

    def set_roi_editable(self, editable: bool) -> None:
        """Operator mode shows the ROI but does not let it move."""
        self.roi.translatable = editable
        for handle in self.roi.getHandles():
            handle.setVisible(editable)

    def current_roi(self) -> Roi | None:
        """The ROI in frame pixels, clipped to the frame, None when disabled."""
        if not self.roi_enabled:
            return None
        x, y = self.roi.pos()
        w, h = self.roi.size()
        if self._shape is not None:
            fh, fw = self._shape[:2]
            x, y = min(max(x, 0), fw - 1), min(max(y, 0), fh - 1)
            w, h = min(w, fw - x), min(h, fh - y)
        return int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h)))

    def _place_roi(self, roi: Roi | None) -> None:
        if roi is None and self._shape is None:
            self._pending_roi = None
            return
        if roi is None:
            fh, fw = self._shape[:2]
            roi = (int(fw * 0.1), int(fh * 0.1), int(fw * 0.8), int(fh * 0.8))
        self.roi.setPos(roi[:2], finish=False)
        self.roi.setSize(roi[2:], finish=False)
        self._pending_roi = roi

    def _roi_moved(self) -> None:
        if self.roi_enabled:
            self.roiChanged.emit(self.current_roi())

    # --- frames ------------------------------------------------------------------------------------

    def show_live(self, live: LiveResult | None) -> bool:
        """Draw ``live`` if it is new; returns whether anything was redrawn."""
        if live is None or live.seq == self._seq:
            return False
        self._seq = live.seq
        image = live.frame.image
        self.frame_item.setImage(image, autoLevels=False, levels=display_levels(image))
        if image.shape[:2] != (self._shape or (0, 0))[:2]:
            self._frame_size_changed(image.shape)
        result = live.result if live.result is None or live.result.verdict != NOT_JUDGED else None  # no usable map
        shown = None if result is None or self.roi_enabled else result
        moved = shown.region_outline() if shown is not None and shown.matrix is not None else None
        self._show_region(shown.roi if shown is not None else None, moved)
        if result is None:
            self.heat_item.clear()
            self.outline.setData([], [])
            return True
        self.heat_item.setImage(result.anomaly_map, autoLevels=False, levels=(0.0, 1.0))
        level = min(max(result.threshold, MIN_OUTLINE_LEVEL), MAX_OUTLINE_LEVEL)
        draw = self.options.outline and result.is_ng  # an OK part's map may touch the level at a few pixels
        x, y = outline_path(result.anomaly_map, level) if draw else (np.empty(0), np.empty(0))
        self.outline.setData(x, y)
        return True

    def _show_region(self, roi: Roi | None, outline: tuple[list[float], list[float]] | None = None) -> None:
        """Outline the inspected region (the model's own, when the operator has not set a ROI); ``outline`` is
        where it lies in this frame when the model aligns parts (it moves with the part)."""
        if roi == self._region and outline is None:
            return
        self._region = roi
        if roi is None:
            self.region.setData([], [])
            return
        x, y, w, h = roi
        xs, ys = outline or ([x, x + w, x + w, x, x], [y, y, y + h, y + h, y])
        self.region.setData(xs, ys)

    def region_shown(self) -> Roi | None:
        """The inspected region outlined now (None when none is drawn)."""
        return self._region

    def clear(self) -> None:
        """Back to "NO SIGNAL"."""
        self._seq = -1
        self._shape = None
        self._show_region(None)
        self.frame_item.clear()
        self.heat_item.clear()
        self.outline.setData([], [])
        self.placeholder.setVisible(True)

    def _frame_size_changed(self, shape: tuple[int, ...]) -> None:
        self._shape = shape
        self.placeholder.setVisible(False)
        self.view.autoRange(padding=0.01)
        if self.roi_enabled:
            self._place_roi(self._pending_roi)
            self.roiChanged.emit(self.current_roi())  # the region may have been placed or clipped just now
        self.roi.maxBounds = pg.QtCore.QRectF(0, 0, shape[1], shape[0])

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.view.autoRange(padding=0.01)
        super().mouseDoubleClickEvent(event)


def _font(points: int):
    from PySide6.QtGui import QFont

    font = QFont()
    font.setPointSize(points)
    font.setBold(True)
    return font
