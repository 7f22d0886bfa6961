"""A tile per camera when the station has several: its name and verdict, its live view with the heatmap, its
state; the part's verdict across the cameras goes in the window's big verdict tile.

Camera 0's tile holds the window's main live view; the other tiles get views of their own. A camera that is
lost says so in its own tile (and "NO SIGNAL" in its badge) while the others keep running. With one camera
there are no tiles: the window looks as it always did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.gui.live_view import LiveView
from app.gui.theme import ACCENT, IDLE_COLOR, NG_COLOR, OK_COLOR, WARN_COLOR
from app.pipeline import LiveResult, PipelineStats
from app.pipeline.record import InspectionRecord, PartRecord, part_verdict
from app.station.health import CameraHealth
from draem_core.verdict import NG, OK

BADGE_COLORS = {OK: OK_COLOR, NG: NG_COLOR, "NOT JUDGED": NG_COLOR, "NO SIGNAL": WARN_COLOR}
COLUMNS = 2  # tiles per row: 2 cameras side by side, 3 or 4 in two rows


class CameraTile(QFrame):
    """One camera of several."""

    def __init__(self, index: int, name: str, view: LiveView, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.index, self.name, self.view = index, name, view
        self.title = QLabel(name.upper())
        self.title.setObjectName("CardTitle")
        self.badge = QLabel("—")
        self.lost = QLabel("")
        self.lost.setObjectName("Banner")
        self.lost.setProperty("level", "warn")
        self.lost.setWordWrap(True)
        self.lost.hide()
        self.footer = QLabel("")
        self.footer.setObjectName("Muted")
        for label in (self.title, self.footer):  # a long name or path never widens the tile
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setToolTip(name)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.badge)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        layout.addLayout(head)
        layout.addWidget(self.lost)
        layout.addWidget(view, 1)
        layout.addWidget(self.footer)
        self.record: InspectionRecord | None = None  # the newest record shown
        self._paint_badge("—")

    def show_live(self, live: LiveResult | None) -> bool:
        """Draw the newest result if it is new (the window's refresh timer); returns whether it was."""
        if not self.view.show_live(live):
            return False
        if live.record is not None:
            self.record = live.record
            self._paint_badge(live.record.verdict.replace("_", " "))
        return True

    def show_health(self, health: CameraHealth, stats: PipelineStats) -> None:
        """The camera's state: a lost camera's banner and badge; rate and counts in the footer."""
        if health.lost:
            self.lost.setText(f"⚠  connection lost — reconnecting …  {health.error}".rstrip())
            self._paint_badge("NO SIGNAL")
        self.lost.setVisible(health.lost)
        model = "" if health.has_model else "  ·  no model"
        self.footer.setText(f"{stats.inspected_fps:.1f} fps  ·  {stats.inspected:,} judged  ·  {stats.ng:,} NG"
                            f"  ·  {stats.not_judged:,} not judged{model}")  # fmt: skip

    def set_selected(self, selected: bool) -> None:
        """The Inspection controls edit this camera."""
        self.setStyleSheet(f"QFrame#Card {{ border: 1px solid {ACCENT}; }}" if selected else "")

    def _paint_badge(self, text: str) -> None:
        if self.badge.text() == text:
            return
        self.badge.setText(text)
        color = BADGE_COLORS.get(text, IDLE_COLOR)
        self.badge.setStyleSheet(f"background: {color}; color: #ffffff; font-weight: 800; border-radius: 4px; "
                                 "padding: 1px 8px;")  # fmt: skip


class CameraTiles(QWidget):
    """The tiles of a station with 2 to 4 cameras, in a grid.

    Args:
        names: The cameras' names in records, in station order.
        main_view: The window's live view: camera 0's tile holds it.
    """

    def __init__(self, names: Sequence[str], main_view: LiveView, parent=None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        self.tiles = [CameraTile(i, name, main_view if i == 0 else LiveView()) for i, name in enumerate(names)]
        for i, tile in enumerate(self.tiles):
            grid.addWidget(tile, i // COLUMNS, i % COLUMNS)
        self._part: PartRecord | None = None

    @property
    def views(self) -> list[LiveView]:
        return [t.view for t in self.tiles]

    def release_main_view(self) -> LiveView:
        """Take camera 0's view back out (the tiles are going away)."""
        view = self.tiles[0].view
        view.setParent(None)
        return view

    def set_selected(self, index: int) -> None:
        for tile in self.tiles:
            tile.set_selected(tile.index == index)

    def refresh(self, latest: Sequence[LiveResult | None]) -> list[bool]:
        """Draw each camera's newest result; which tiles were redrawn."""
        return [tile.show_live(live) for tile, live in zip(self.tiles, latest, strict=False)]

    def show_health(self, health: Sequence[CameraHealth], stats: Sequence[PipelineStats]) -> None:
        for tile, h, s in zip(self.tiles, health, stats, strict=False):
            tile.show_health(h, s)

    def new_part(self, part: PartRecord | None) -> PartRecord | None:
        """``part`` when it was not shown yet, else None."""
        if part is None or part is self._part:
            return None
        self._part = part
        return part

    def newest_records(self) -> list[InspectionRecord]:
        """Free run: every camera's newest record (a camera without one yet is left out)."""
        return [t.record for t in self.tiles if t.record is not None]


def combined_verdict(records: Sequence[InspectionRecord]) -> str:
    """The verdict over the cameras' newest records (free run: no part, but one tile for the station)."""
    return part_verdict([r.verdict for r in records])


def combined_stats(stats: Sequence[PipelineStats]) -> PipelineStats | None:
    """One set of counters for several cameras: verdicts, drops and rates added up, the worst latency."""
    if not stats:
        return None
    total = lambda name: sum(getattr(s, name) for s in stats)  # noqa: E731
    return dataclasses.replace(
        stats[0], camera_fps=min(s.camera_fps for s in stats), inspected_fps=total("inspected_fps"),
        latency_p50_ms=max(s.latency_p50_ms for s in stats), latency_p95_ms=max(s.latency_p95_ms for s in stats),
        inference_ms=max(s.inference_ms for s in stats), dropped=total("dropped"), inspected=total("inspected"),
        ng=total("ng"), not_judged=total("not_judged"), overruns=total("overruns"),
    )  # fmt: skip


def part_stats(base: PipelineStats, parts: int, ng: int, not_judged: int) -> PipelineStats:
    """Counters of parts (triggered, several cameras): the production tiles count parts, not camera verdicts."""
    return dataclasses.replace(base, inspected=parts, ng=ng, not_judged=not_judged)
