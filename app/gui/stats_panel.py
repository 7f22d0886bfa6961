"""Counters (inspected, NG, yield), live statistics (rates, latency, drops, device) and the model card."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.gui.theme import NG_COLOR, OK_COLOR
from app.pipeline import PipelineStats, model_identity
from draem_core.modelfile import ModelMetadata


def card(title: str) -> tuple[QFrame, QVBoxLayout]:
    """A rounded panel with a small upper-case title."""
    frame = QFrame()
    frame.setObjectName("Card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(12, 8, 12, 10)
    layout.setSpacing(6)
    label = QLabel(title.upper())
    label.setObjectName("CardTitle")
    layout.addWidget(label)
    return frame, layout


class Tile(QWidget):
    """A value over a caption."""

    def __init__(self, caption: str, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Tile")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.value = QLabel("–")
        self.value.setObjectName("TileValue")
        self.caption = QLabel(caption.upper())
        self.caption.setObjectName("TileLabel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.value)
        layout.addWidget(self.caption)

    def set(self, text: str, color: str | None = None) -> None:
        self.value.setText(text)
        self.value.setStyleSheet(f"color: {color};" if color else "")


class CountersPanel(QFrame):
    """Inspected / NG / not judged / yield, with a reset button."""

    resetRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 10)
        head = QHBoxLayout()
        title = QLabel("PRODUCTION")
        title.setObjectName("CardTitle")
        self.reset = QPushButton("Reset")
        self.reset.setToolTip("Zero the inspected and NG counters")
        self.reset.clicked.connect(self.resetRequested)
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.reset)
        outer.addLayout(head)
        row = QHBoxLayout()
        self.inspected, self.ng, self.yield_ = Tile("inspected"), Tile("NG"), Tile("yield")
        self.not_judged = Tile("not judged")
        self.not_judged.setToolTip("Parts the model could not judge (rejected, never OK): see the trace for why")
        for tile in (self.inspected, self.ng, self.not_judged, self.yield_):
            row.addWidget(tile)
        outer.addLayout(row)

    def show_stats(self, stats: PipelineStats | None) -> None:
        if stats is None:
            for tile in (self.inspected, self.ng, self.not_judged, self.yield_):
                tile.set("–")
            return
        self.inspected.set(f"{stats.inspected:,}")
        self.ng.set(f"{stats.ng:,}", NG_COLOR if stats.ng else None)
        self.not_judged.set(f"{stats.not_judged:,}", NG_COLOR if stats.not_judged else None)
        self.yield_.set(f"{stats.yield_pct:.1f} %", OK_COLOR if stats.yield_pct >= 99.0 else None)


class StatsPanel(QFrame):
    """Camera fps, inspected fps, latency p50/p95, dropped frames and the device."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 8, 12, 10)
        grid.setHorizontalSpacing(16)
        title = QLabel("PERFORMANCE")
        title.setObjectName("CardTitle")
        grid.addWidget(title, 0, 0, 1, 3)
        self.camera_fps, self.inspected_fps = Tile("camera fps"), Tile("inspected fps")
        self.latency, self.dropped = Tile("latency p50 / p95 ms"), Tile("dropped frames")
        for i, tile in enumerate((self.camera_fps, self.inspected_fps, self.latency, self.dropped)):
            grid.addWidget(tile, 1 + i // 2, i % 2)
        self.device = QLabel("device –")
        self.device.setObjectName("Muted")
        grid.addWidget(self.device, 3, 0, 1, 2)

    def show_stats(self, stats: PipelineStats | None) -> None:
        if stats is None:
            for tile in (self.camera_fps, self.inspected_fps, self.latency, self.dropped):
                tile.set("–")
            self.device.setText("device –")
            return
        self.camera_fps.set(f"{stats.camera_fps:.1f}")
        self.inspected_fps.set(f"{stats.inspected_fps:.1f}")
        self.latency.set(
            f"{stats.latency_p50_ms:.0f} / {stats.latency_p95_ms:.0f}" if stats.inspected else "–"
        )
        self.dropped.set(f"{stats.dropped:,}")
        self.device.setText(f"device {stats.device or 'none (no model)'}")


class ModelPanel(QFrame):
    """Name, version and calibration of the model in use."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(3)
        title = QLabel("MODEL")
        title.setObjectName("CardTitle")
        self.name = QLabel("no model loaded")
        self.name.setStyleSheet("font-size: 12pt; font-weight: 700;")
        self.version = QLabel("")
        self.calibration = QLabel("")
        for label in (self.version, self.calibration):
            label.setObjectName("Muted")
            label.setWordWrap(True)
        for w in (title, self.name, self.version, self.calibration):
            layout.addWidget(w)
        self.setToolTip("")

    def show_model(self, meta: ModelMetadata | None, path: Path | None = None) -> None:
        if meta is None:
            self.name.setText("no model loaded")
            self.version.setText("Model ▸ Load model… or retrain")
            self.calibration.setText("")
            return
        name, version = model_identity(meta)
        self.name.setText(name or (path.stem if path else "model"))
        size = f"{meta.model.image_height}×{meta.model.image_width}"
        self.version.setText(f"version {version}   ·   input {size}")
        cal = meta.calibration or {}
        if cal:
            defects = f", {cal.get('n_defect')} defective" if cal.get("n_defect") else ", no defective images"
            self.calibration.setText(f"calibrated threshold {cal.get('threshold', 0):.4f} "
                                     f"({cal.get('n_good', '?')} good{defects})")  # fmt: skip
        else:
            self.calibration.setText("not calibrated: threshold 0.5")
        tip = [str(path) if path else "", cal.get("note", "") if cal else ""]
        self.setToolTip("\n\n".join(t for t in tip if t))
        self.name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
