"""What every wizard page shares: the injected collaborators and a message line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWizardPage

from app.pipeline.record import LiveResult
from app.registry import ModelRegistry
from app.retrain.collect import Dataset
from app.retrain.evaluation import Comparison
from app.retrain.plan import RetrainPlan
from app.retrain.runner import TrainingRunner
from app.sources.base import Frame
from app.wizard.jobs import JobSet

LEVEL_STYLE = {
    "info": "color: palette(text);",
    "ok": "color: #1b7a2b;",
    "warn": "color: #a15c00;",
    "error": "color: #b00020; font-weight: bold;",
}


@dataclass
class WizardContext:
    """The plan and the collaborators the pages work with (injected by the wizard's creator)."""

    plan: RetrainPlan  # the one object every page edits
    latest: Callable[[], LiveResult | None]  # the live window's newest frame with its verdict (never blocks)
    deploy: Callable[[Path], None]  # swaps a model file into the running inspection
    registry: ModelRegistry  # model versions
    runner: TrainingRunner  # the training process
    jobs: JobSet  # background threads for disk, scoring and synthesis
    datasets_root: Path  # where new datasets are created
    dataset: Dataset | None = None  # the open dataset (set by the Collect page)
    comparison: Comparison | None = None  # the Evaluate page's result (read by Deploy)
    camera_settings: Callable[[], dict] | None = None  # the camera's settings, stored with captured frames
    eval_device: str = "cpu"  # device for evaluation and previews (the GPU stays with inspection/training)
    timing_threads: int | None = None  # torch threads of the timing and training processes (None = default)
    current_model: Callable[[], Path | None] | None = None  # the model the live window runs, if it can say
    cameras: tuple[str, ...] = ()  # the station's cameras when it has several (the Collect page offers them)
    camera: int = 0  # the camera whose model is retrained: its frames are collected, its model is replaced

    @property
    def station_model(self) -> bool:
        """The chosen camera runs the station's model (camera 0): a deployed version becomes the registry's active
        one. Another camera's new model is stored as a version and used on that camera only."""
        return self.camera == 0

    def latest_frame(self) -> Frame | None:
        """The live window's newest frame, or None."""
        live = self.latest()
        return live.frame if live is not None else None

    def deployed_model(self) -> Path | None:
        """The model the line runs now: the live window's, else the active registry version's, else None."""
        current = self.current_model() if self.current_model is not None else None
        if current is not None and Path(current).is_file():
            return Path(current)
        try:
            record = self.registry.active()
        except Exception:  # noqa: BLE001  (a broken registry must not stop retraining; Deploy shows it)
            return None
        return record.model_path if record is not None else None


class PageBase(QWizardPage):
    """A page with the context, a body layout and a message line at the bottom."""

    def __init__(self, ctx: WizardContext, title: str, subtitle: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.body = QVBoxLayout(self)
        self.message = QLabel()
        self.message.setWordWrap(True)

    @property
    def plan(self) -> RetrainPlan:
        return self.ctx.plan

    def finish_layout(self) -> None:
        """Put the message line last; call at the end of a page's __init__."""
        self.body.addWidget(self.message)

    def say(self, text: str, level: str = "info") -> None:
        """Show ``text`` on the message line (info, ok, warn or error)."""
        self.message.setStyleSheet(LEVEL_STYLE.get(level, ""))
        self.message.setText(text)

    def fail(self, text: str) -> None:
        """Show a failure from a background job."""
        self.say(text, "error")
