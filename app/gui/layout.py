"""The central area of the station: banner, live view (a tile per camera when there are several), verdict
column and trend."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSplitter, QVBoxLayout, QWidget

from app.gui.camera_tiles import CameraTiles
from app.gui.live_view import LiveView
from app.gui.stats_panel import CountersPanel, ModelPanel, StatsPanel
from app.gui.trend_plot import TrendPlot
from app.gui.verdict_panel import VerdictPanel

SIDE_WIDTH = 360  # width of the verdict column, px


class StationLayout(QWidget):
    """Banner on top; live view left, verdict/counters/statistics/model right; trend below."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.banner = QLabel("")
        self.banner.setObjectName("Banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.view = LiveView()
        self.verdict = VerdictPanel()
        self.counters = CountersPanel()
        self.stats = StatsPanel()
        self.model = ModelPanel()
        self.trend = TrendPlot()
        self.tiles: CameraTiles | None = None  # a tile per camera while the station has several

        side = QWidget()
        side.setFixedWidth(SIDE_WIDTH)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addWidget(self.verdict, 3)
        column.addWidget(self.counters)
        column.addWidget(self.stats)
        column.addWidget(self.model)

        view_frame = QFrame()
        view_frame.setObjectName("Card")
        inner = QVBoxLayout(view_frame)
        inner.setContentsMargins(2, 2, 2, 2)
        inner.addWidget(self.view)
        self._view_box = inner
        top = QWidget()
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        row.addWidget(view_frame, 1)
        row.addWidget(side)

        trend_frame = QFrame()
        trend_frame.setObjectName("Card")
        trend_layout = QVBoxLayout(trend_frame)
        trend_layout.setContentsMargins(8, 6, 8, 6)
        title = QLabel("SCORE TREND")
        title.setObjectName("CardTitle")
        trend_layout.addWidget(title)
        trend_layout.addWidget(self.trend)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(trend_frame)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)

    def show_cameras(self, names: Sequence[str]) -> CameraTiles | None:
        """One camera: its live view alone, as always; several: a tile per camera, camera 0's holding the view."""
        if self.tiles is not None:
            view = self.tiles.release_main_view()
            self._view_box.removeWidget(self.tiles)
            self.tiles.deleteLater()
            self.tiles = None
            self._view_box.addWidget(view)
        if len(names) > 1:
            self._view_box.removeWidget(self.view)
            self.tiles = CameraTiles(names, self.view)
            self._view_box.addWidget(self.tiles)
        return self.tiles

    def view_of(self, camera: int) -> LiveView:
        """The live view of a camera (camera 0's, the main one, when there are no tiles)."""
        views = self.tiles.views if self.tiles is not None else [self.view]
        return views[camera] if camera < len(views) else self.view

    def show_banner(self, text: str, level: str) -> None:
        """A one-line message over the view ("warn", "error", "info"); empty text hides it."""
        if not text:
            self.banner.hide()
            return
        if self.banner.text() != text or self.banner.property("level") != level:
            self.banner.setText(text)
            self.banner.setProperty("level", level)
            self.banner.style().unpolish(self.banner)
            self.banner.style().polish(self.banner)
        self.banner.show()

    @property
    def banner_text(self) -> str:
        """What the banner says ("" when hidden)."""
        return self.banner.text() if self.banner.isVisibleTo(self) else ""
