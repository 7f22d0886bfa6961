"""Train: training in its own process with progress, ETA and live loss curves; cancel and resume.

The page pulls the runner's events on a timer (the GUI never waits). Cancelling writes a checkpoint, so
nothing is lost: Resume continues from it, in this session or after the wizard was closed and reopened.
"""

from __future__ import annotations

import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton

from app.retrain.runner import new_run_path, unfinished_run
from app.retrain.timing import clock
from app.wizard.page import PageBase, WizardContext
from draem_core.checkpoint import checkpoint_path
from draem_core.train import TrainEvent

POLL_MS = 100  # how often the page pulls training events
CURVES = (("loss", "total", "#ffffff"), ("l2", "L2", "#4fc3f7"), ("ssim", "SSIM", "#81c784"),
          ("focal", "focal", "#ffb74d"))  # fmt: skip  # (event field, legend, colour)


class TrainPage(PageBase):
    """Complete when the run wrote its model file (``plan.model_out``)."""

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(
            ctx, "Train", "Training runs in its own process: inspection keeps running meanwhile."
        )
        self.done_path: Path | None = None
        self._has_checkpoint = False  # the current run (plan.model_out) has a checkpoint to resume
        self.status = QLabel("Not started.")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.eta = QLabel("")
        self.plot = pg.PlotWidget(background="#1e1e1e")
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.addLegend(offset=(-10, 10))
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.curves = {key: self.plot.plot([], [], pen=pg.mkPen(color, width=2), name=label)
                       for key, label, color in CURVES}  # fmt: skip
        self.history: dict[str, list[float]] = {"step": [], **{k: [] for k, _, _ in CURVES}}
        for widget in (self.status, self.progress, self.eta):
            self.body.addWidget(widget)
        self.body.addWidget(self.plot, 1)
        self.body.addLayout(self._buttons())
        self.finish_layout()
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._update_buttons()

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.new_btn = QPushButton("Start a new run")
        self.cancel_btn = QPushButton("Cancel (keep checkpoint)")
        self.resume_btn = QPushButton("Resume")
        self.new_btn.clicked.connect(self.start_new)
        self.cancel_btn.clicked.connect(self.cancel)
        self.resume_btn.clicked.connect(self.resume)
        for b in (self.new_btn, self.cancel_btn, self.resume_btn):
            row.addWidget(b)
        row.addStretch(1)
        return row

    # --- page protocol -----------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.done_path = None
        dataset = self.plan.dataset
        self.status.setText("Looking for an interrupted run…")

        def look(stop):  # reads the dataset's runs folder: off the GUI thread
            found = unfinished_run(dataset) if dataset else None
            return ("resume", *found) if found else ("new", new_run_path(dataset), 0)  # type: ignore[arg-type]

        self.ctx.jobs.start(look, self._looked, self.fail)

    def _looked(self, found) -> None:
        kind, model, step = found
        self.plan.model_out = model
        if kind == "new":
            self._has_checkpoint = False
            self._start(self.plan.to_train_plan(model))
            return
        self._has_checkpoint = True
        self.status.setText(f"Interrupted run {model.name}.")
        self.say(
            f"An interrupted run stopped at step {step}: Resume continues it, or start a new run.", "warn"
        )
        self._update_buttons()

    def isComplete(self) -> bool:
        return self.done_path is not None and not self.ctx.runner.running

    def cleanupPage(self) -> None:
        if self.ctx.runner.running:  # Back while training: stop with a checkpoint, nothing is lost
            self.cancel()

    # --- actions -----------------------------------------------------------------------------------

    def start_new(self) -> None:
        """Start a fresh run of the plan (a new model file; an interrupted run's checkpoint stays)."""
        dataset = self.plan.dataset
        self.ctx.jobs.start(lambda stop: ("new", new_run_path(dataset), 0), self._looked, self.fail)  # type: ignore[arg-type]

    def resume(self) -> None:
        """Continue the current run from its checkpoint."""
        out = self.plan.model_out
        if out is None or not self._has_checkpoint:
            self.say("Nothing to resume: no checkpoint was written yet.", "error")
            return
        self._start(self.plan.to_train_plan(out, resume=checkpoint_path(out)))

    def _start(self, train_plan) -> None:
        self.done_path = None
        if train_plan.resume is None:
            for values in self.history.values():
                values.clear()
        self.ctx.runner.start(train_plan)
        self.status.setText("Starting the training process…")
        self.say("")
        self._timer.start()
        self._update_buttons()
        self.completeChanged.emit()

    def cancel(self) -> None:
        """Stop after the current step; the checkpoint keeps the work."""
        if self.ctx.runner.running:
            self.ctx.runner.cancel()
            self.status.setText("Stopping after this step and writing a checkpoint…")

    def _update_buttons(self) -> None:
        running = self.ctx.runner.running
        self.cancel_btn.setEnabled(running)
        self.new_btn.setEnabled(not running)
        self.resume_btn.setEnabled(not running and self._has_checkpoint and self.done_path is None)

    # --- events ------------------------------------------------------------------------------------

    def poll(self) -> None:
        """Pull and show the runner's events (timer slot)."""
        events = self.ctx.runner.poll()
        for event in events:
            self._show(event)
        if events and any(e.kind == "step" for e in events):
            for key, curve in self.curves.items():
                curve.setData(self.history["step"], self.history[key])
        if not self.ctx.runner.running:
            self._timer.stop()
            self._update_buttons()
            self.completeChanged.emit()
            if events:
                self.wizard_finished_training()

    def wizard_finished_training(self) -> None:
        """Let the wizard close if the engineer asked to close while training."""
        wizard = self.wizard()
        if wizard is not None and hasattr(wizard, "training_ended"):
            wizard.training_ended()

    def _show(self, e: TrainEvent) -> None:
        if e.kind == "info":
            self.status.setText(e.message)
        elif e.kind == "step":
            self._step(e)
        elif e.kind == "checkpoint":
            self._has_checkpoint = True
            self.eta.setText(f"{self.eta.text().split(' · checkpoint')[0]} · checkpoint at step {e.step}")
        elif e.kind == "calibrating":
            self.status.setText("Scoring the held-out images to set the threshold…")
        elif e.kind == "done":
            self.done_path = Path(e.path)
            self.progress.setValue(self.progress.maximum())
            self.status.setText(f"Done: {e.step} steps in {clock(e.elapsed_s)}.")
            self.say(e.message, "ok")
        elif e.kind == "cancelled":
            self._has_checkpoint = True
            self.status.setText(
                f"Cancelled at step {e.step}: the checkpoint keeps the work; Resume continues it."
            )
        elif e.kind == "failed":
            self.status.setText("Training stopped.")
            self.say(e.message, "error")

    def _step(self, e: TrainEvent) -> None:
        self.history["step"].append(e.step)
        for key, _, _ in CURVES:
            self.history[key].append(getattr(e, key))
        frac = e.step / e.total_steps if e.total_steps else 0.0
        self.progress.setValue(int(min(1.0, frac) * self.progress.maximum()))
        eta = clock(e.eta_s) if math.isfinite(e.eta_s) else "…"
        self.eta.setText(f"step {e.step} / {e.total_steps} · loss {e.loss:.4f} · {e.images_per_s:.1f} images/s · "
                         f"{clock(e.elapsed_s)} elapsed · about {eta} left")  # fmt: skip
