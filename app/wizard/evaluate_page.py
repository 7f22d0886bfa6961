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
)  # fmt: skip

from app.retrain.evaluation import EXAMPLES, Comparison, Example, ModelScores, compare
from app.wizard.histogram import ScoreHistogram
from app.wizard.images import to_pixmap
from app.wizard.page import PageBase, WizardContext

EXAMPLE_SIZE = (180, 84)  # overlay thumbnails (w, h)
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
        lower.addWidget(self._table_box())
        lower.addWidget(self._examples_box(), 1)
        self.body.addLayout(lower, 2)
        reset = QPushButton("Back to the calibrated threshold")
        reset.clicked.connect(self.reset_threshold)
        self.body.addWidget(reset, 0, Qt.AlignmentFlag.AlignLeft)
        self.finish_layout()
        self.new_hist.thresholdChanged.connect(self._new_threshold)
        self.old_hist.thresholdChanged.connect(lambda _: self._fill_table())

    def _table_box(self) -> QGroupBox:
        box = QGroupBox("At the thresholds shown")
        grid = QGridLayout(box)
        for col, head in enumerate(("", "new", "deployed")):
            grid.addWidget(QLabel(f"<b>{head}</b>"), 0, col)
        self.table: list[list[QLabel]] = []
        for row, name in enumerate(ROWS, 1):
            grid.addWidget(QLabel(name), row, 0)
            cells = [QLabel("—"), QLabel("—")]
            for col, cell in enumerate(cells, 1):
                cell.setAlignment(Qt.AlignmentFlag.AlignRight)
                grid.addWidget(cell, row, col)
            self.table.append(cells)
        grid.setRowStretch(len(ROWS) + 1, 1)
        return box

    def _examples_box(self) -> QGroupBox:
        box = QGroupBox(
            "New model: highest-scored good images (top row) and lowest-scored defects (bottom row)"
        )
        grid = QGridLayout(box)
        self.example_cells: list[list[tuple[QLabel, QLabel]]] = [[], []]
        for row in range(2):
            for col in range(EXAMPLES):
                image, caption = QLabel(), QLabel()
                image.setFixedSize(*EXAMPLE_SIZE)
                image.setAlignment(Qt.AlignmentFlag.AlignCenter)
                caption.setStyleSheet("font-size: 10px;")
                grid.addWidget(image, 2 * row, col)
                grid.addWidget(caption, 2 * row + 1, col)
                self.example_cells[row].append((image, caption))
        return box

    # --- page protocol -----------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.comparison = self.ctx.comparison = None
        p, ctx = self.plan, self.ctx
        new, deployed = p.model_out, ctx.deployed_model  # looked up in the job: it reads the registry
        good, defects, device = p.good_images, p.defect_images, ctx.eval_device
        self.say("Scoring the held-out images with the new and the deployed model…")
        self._job = ctx.jobs.start(lambda stop: compare(new, deployed(), good, defects, device, stop),
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
        for (image, caption), ex in zip(self.example_cells[row], examples, strict=False):
            image.setPixmap(to_pixmap(ex.overlay, *EXAMPLE_SIZE))
            image.setToolTip(f"{ex.title}: score {ex.score:.4f}")
            caption.setText(f"{ex.score:.4f} · {ex.title[:26]}")

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
                self.table[row][col].setText(text)


def _column(scores: ModelScores | None, threshold: float | None) -> list[str]:
    if scores is None:
        return ["—"] * len(ROWS)
    r = scores.rates(threshold)
    auc = scores.auroc()
    return [f"{r.threshold:.4f}", f"{r.false_reject:.1%}", f"{r.escape_synthetic:.1%}",
            "—" if r.escape_real is None else f"{r.escape_real:.1%}", "—" if auc is None else f"{auc:.3f}"]  # fmt: skip
