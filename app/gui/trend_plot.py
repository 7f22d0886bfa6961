"""The score trend: recent raw scores, OK green and NG red, with the threshold as a line.

In engineer mode the threshold line can be dragged; the new value is announced with
:attr:`TrendPlot.thresholdDragged` (the window applies it like the threshold control).
"""

from __future__ import annotations

import collections

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

from app.gui.theme import ACCENT, MUTED, NG_COLOR, OK_COLOR

HISTORY = 300  # points shown


class TrendPlot(pg.PlotWidget):
    """Rolling plot of the last :data:`HISTORY` verdicts."""

    thresholdDragged = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(140)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        item.showGrid(x=False, y=True, alpha=0.15)
        item.setLabel("left", "raw score", color=MUTED)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.getAxis("bottom").setStyle(showValues=False)
        self.curve = self.plot([], [], pen=pg.mkPen("#56606b", width=1))
        self.ok_points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(OK_COLOR))
        self.ng_points = pg.ScatterPlotItem(size=8, pen=None, brush=pg.mkBrush(NG_COLOR))
        self.addItem(self.ok_points)
        self.addItem(self.ng_points)
        self.threshold_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(ACCENT, width=2), hoverPen=pg.mkPen("#ffffff", width=3),
            label="threshold {value:.4f}", labelOpts={"position": 0.06, "color": ACCENT, "movable": True},
        )  # fmt: skip
        self.threshold_line.sigPositionChangeFinished.connect(self._dragged)
        self.threshold_line.setVisible(False)  # until a model gives a threshold
        self.addItem(self.threshold_line)
        self.scores: collections.deque[float] = collections.deque(maxlen=HISTORY)
        self.ng: collections.deque[bool] = collections.deque(maxlen=HISTORY)
        self.count = 0  # verdicts added since the last clear
        self.setYRange(0, 1)

    def add(self, score: float, is_ng: bool) -> None:
        """Append one verdict (call :meth:`redraw` to show it)."""
        self.scores.append(float(score))
        self.ng.append(bool(is_ng))
        self.count += 1

    def redraw(self) -> None:
        """Draw the points collected so far."""
        y = np.fromiter(self.scores, float, len(self.scores))
        x = np.arange(self.count - len(y), self.count, dtype=float)
        ng = np.fromiter(self.ng, bool, len(self.ng))
        self.curve.setData(x, y)
        self.ok_points.setData(x[~ng], y[~ng])
        self.ng_points.setData(x[ng], y[ng])
        self.setXRange(self.count - HISTORY, self.count, padding=0.01)
        self._fit_y(y)

    def _fit_y(self, y: np.ndarray) -> None:
        if not y.size and not self.threshold_line.isVisible():
            self.setYRange(0.0, 1.0, padding=0)
            return
        t = self.threshold_line.value()
        values = np.append(y, t) if self.threshold_line.isVisible() else y
        lo, hi = float(values.min()), float(values.max())
        span = max(hi - lo, 0.02)
        self.setYRange(max(0.0, lo - 0.15 * span), min(1.0, hi + 0.15 * span), padding=0)

    def set_threshold(self, raw: float | None) -> None:
        """Where the line is; None hides it."""
        self.threshold_line.setVisible(raw is not None)
        if raw is not None and not self.threshold_line.moving:
            self.threshold_line.setValue(raw)

    def set_editable(self, editable: bool) -> None:
        """Engineer mode: the threshold line can be dragged."""
        self.threshold_line.setMovable(editable)

    def clear_history(self) -> None:
        self.scores.clear()
        self.ng.clear()
        self.count = 0
        self.redraw()

    def _dragged(self) -> None:
        value = float(min(max(self.threshold_line.value(), 1e-4), 0.9999))
        self.thresholdDragged.emit(value)
