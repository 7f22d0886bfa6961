"""Evaluate: score histograms with a draggable threshold, the deployed model side by side, worst cases.

Both models score the same images (held-out good, synthetic defects, marked real defects) in the
background. Dragging the new model's threshold line shows the expected false-reject and escape rates; the
chosen threshold is stored with the version on Deploy.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)  # fmt: skip

from app.retrain.evaluation import EXAMPLES, Comparison, Example, ModelScores, compare
from app.wizard.histogram import ScoreHistogram
from app.wizard.images import to_pixmap
from app.wizard.page import PageBase, WizardContext

EXAMPLE_SIZE = (210, 110)  # overlay thumbnails (w, h)
ROWS = ("threshold", "false rejects", "escapes (synthetic)", "escapes (marked)", "AUROC")


class EvaluatePage(PageBase):
    """Complete once the comparison is computed; writes ``plan.threshold``."""

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(ctx, "Evaluate", "Drag the threshold line to see what it would reject and let pass.")
        self.comparison: Comparison | None = None
        self._job = None
        plots = QHBoxLayout()
        self.new_hist = ScoreHistogram("new model (drag the line)")
        self.old_hist = ScoreHistogram("deployed model (same images)")
        plots.addWidget(self.new_hist, 1)
        plots.addWidget(self.old_hist, 1)
        self.body.addLayout(plots, 3)
        lower = QHBoxLayout()
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setHorizontalHeaderLabels(["new", "deployed"])
        self.table.setVerticalHeaderLabels(list(ROWS))
        self.table.setMaximumWidth(360)
        lower.addWidget(self.table)
        lower.addWidget(self._examples_box(), 1)
        self.body.addLayout(lower, 2)
        reset = QPushButton("Back to the calibrated threshold")
        reset.clicked.connect(self.reset_threshold)
        self.body.addWidget(reset, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish_layout()
        self.new_hist.thresholdChanged.connect(self._new_threshold)
        self.old_hist.thresholdChanged.connect(lambda _: self._fill_table())

    def _examples_box(self) -> QGroupBox:
        box = QGroupBox("New model: highest-scored good images (top) and lowest-scored defects (bottom)")
        grid = QGridLayout(box)
        self.example_cells: list[list[QLabel]] = [[], []]
        for row in range(2):
            for col in range(EXAMPLES):
                cell = QLabel()
                cell.setFixedSize(EXAMPLE_SIZE[0], EXAMPLE_SIZE[1] + 18)
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
                grid.addWidget(cell, row, col)
                self.example_cells[row].append(cell)
        return box

    # --- page protocol -----------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.comparison = self.ctx.comparison = None
        p, ctx = self.plan, self.ctx
        new, deployed = p.model_out, ctx.deployed_model()
        good, defects, source, device = p.good_images, p.defect_images, p.anomaly_source, ctx.eval_device
        self.say("Scoring the held-out images with the new and the deployed model…")
        self._job = ctx.jobs.start(lambda stop: compare(new, deployed, good, defects, source, device, stop),
                                   self._progress, self.fail)  # fmt: skip
        self.completeChanged.emit()

    def cleanupPage(self) -> None:
        if self._job is not None:
            self._job.stop()

    def isComplete(self) -> bool:
        return self.comparison is not None

    # --- results -----------------------------------------------------------------------------------

    def _progress(self, item) -> None:
        if isinstance(item, Comparison):
            self._show(item)
        else:
            self.say(f"{item}…")

    def _show(self, comparison: Comparison) -> None:
        self.comparison = self.ctx.comparison = comparison
        self.new_hist.set_scores(comparison.new, self.plan.threshold)
        if comparison.deployed is not None:
            self.old_hist.set_scores(comparison.deployed)
        else:
            self.old_hist.plot.setTitle("no deployed model to compare with")
        self._show_examples(0, comparison.new.worst_good)
        self._show_examples(1, comparison.new.hardest_defects)
        self._fill_table()
        self.say(comparison.note or "Evaluation done.", "warn" if comparison.note else "ok")
        self.completeChanged.emit()

    def _show_examples(self, row: int, examples: tuple[Example, ...]) -> None:
        for cell, ex in zip(self.example_cells[row], examples, strict=False):
            cell.setPixmap(to_pixmap(ex.overlay, *EXAMPLE_SIZE))
            cell.setToolTip(f"{ex.title}: score {ex.score:.4f}")

    def _new_threshold(self, value: float) -> None:
        if self.comparison is None:
            return
        calibrated = self.comparison.new.threshold
        self.plan.threshold = None if abs(value - calibrated) < 1e-6 else float(value)
        self._fill_table()

    def reset_threshold(self) -> None:
        if self.comparison is not None:
            self.new_hist.set_threshold(self.comparison.new.threshold)

    def _fill_table(self) -> None:
        if self.comparison is None:
            return
        columns = [(self.comparison.new, self.new_hist), (self.comparison.deployed, self.old_hist)]
        for col, (scores, hist) in enumerate(columns):
            for row, text in enumerate(_column(scores, hist.threshold if scores is not None else None)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()


def _column(scores: ModelScores | None, threshold: float | None) -> list[str]:
    if scores is None:
        return ["—"] * len(ROWS)
    r = scores.rates(threshold)
    auc = scores.auroc()
    return [f"{r.threshold:.4f}", f"{r.false_reject:.1%}", f"{r.escape_synthetic:.1%}",
            "—" if r.escape_real is None else f"{r.escape_real:.1%}", "—" if auc is None else f"{auc:.3f}"]  # fmt: skip
