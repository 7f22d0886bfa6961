"""A score histogram of good and defective images with a draggable threshold line and its rates."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.retrain.evaluation import ModelScores, Rates

BINS = 40  # histogram bins over the span of all scores
GROUPS = (("good", "held-out good", (76, 175, 80)), ("synthetic", "synthetic defects", (255, 152, 0)),
          ("real", "marked defects", (229, 57, 53)))  # fmt: skip  # (ModelScores field, legend, colour)


def rates_text(r: Rates, scores: ModelScores) -> str:
    """One line: what the threshold does on these images."""
    real = f"{r.escape_real:.0%} of {scores.real.size} marked" if r.escape_real is not None else "none marked"
    return (f"threshold {r.threshold:.4f} → false rejects {r.false_reject:.1%} of {scores.good.size} good · "
            f"escapes {r.escape_synthetic:.0%} of {scores.synthetic.size} synthetic, {real}")  # fmt: skip


class ScoreHistogram(QWidget):
    """Histograms of one model's scores; dragging the line changes the threshold and the rates shown."""

    thresholdChanged = Signal(float)

    def __init__(self, title: str, movable: bool = True) -> None:
        super().__init__()
        self.scores: ModelScores | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="#1e1e1e", title=title)
        self.plot.setLabel("bottom", "raw image score")
        self.plot.setLabel("left", "share of the group")
        self.plot.addLegend(offset=(-10, 10), brush=pg.mkBrush(30, 30, 30, 210))  # top right, over the bars
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).enableAutoSIPrefix(False)  # "x0.001" scales confuse; show plain numbers
        self.line = pg.InfiniteLine(angle=90, movable=movable, pen=pg.mkPen("#ffffff", width=2),
                                    hoverPen=pg.mkPen("#ffeb3b", width=3),
                                    label="{value:.4f}", labelOpts={"position": 0.08, "color": "#ffffff"})  # fmt: skip
        self.line.sigPositionChanged.connect(self._moved)
        self.rates = QLabel("")
        self.rates.setWordWrap(True)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.rates)

    def set_scores(self, scores: ModelScores, threshold: float | None = None) -> None:
        """Draw ``scores`` and put the line at ``threshold`` (default: the model's own)."""
        self.scores = scores
        self.plot.clear()
        groups = [(getattr(scores, key), label, color) for key, label, color in GROUPS]
        everything = np.concatenate([g for g, _, _ in groups] + [np.array([scores.threshold])])
        lo, hi = float(everything.min()), float(everything.max())
        pad = max(1e-3, 0.05 * (hi - lo))
        edges = np.linspace(lo - pad, hi + pad, BINS + 1)
        for values, label, color in groups:
            if values.size:
                counts, _ = np.histogram(values, edges)
                self.plot.plot(edges, counts / values.size, stepMode="center", fillLevel=0, name=label,
                               pen=pg.mkPen(color, width=2), brush=pg.mkBrush(*color, 70))  # fmt: skip
        self.line.setBounds((edges[0], edges[-1]))
        self.plot.addItem(self.line)
        self.set_threshold(scores.threshold if threshold is None else threshold)

    def set_threshold(self, value: float) -> None:
        """Move the line (as a drag would)."""
        self.line.setValue(float(value))
        self._moved()

    @property
    def threshold(self) -> float:
        return float(self.line.value())

    def _moved(self) -> None:
        if self.scores is None:
            return
        self.rates.setText(rates_text(self.scores.rates(self.threshold), self.scores))
        self.thresholdChanged.emit(self.threshold)
