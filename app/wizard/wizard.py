"""The retrain wizard: Collect → Review → Configure → Train → Evaluate → Deploy.

Every page edits one :class:`~app.retrain.plan.RetrainPlan`; the collaborators (the live window's frame and
verdict slots, the deploy callback, the model registry) are injected. Closing while training asks what to
do; stopping writes a checkpoint that Resume continues later, so nothing is lost. The switch to operator mode
closes it without asking (:meth:`RetrainWizard.close_for_operator`): a running training keeps going.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget, QWizard

from app.paths import data_home
from app.pipeline.record import LiveResult
from app.registry import ModelRegistry
from app.retrain.plan import RetrainPlan
from app.retrain.runner import TrainingRunner
from app.wizard.collect_page import CollectPage
from app.wizard.configure_page import ConfigurePage
from app.wizard.deploy_page import DeployPage
from app.wizard.evaluate_page import EvaluatePage
from app.wizard.jobs import JobSet
from app.wizard.page import WizardContext
from app.wizard.review_page import ReviewPage
from app.wizard.train_page import TrainPage

COLLECT, REVIEW, CONFIGURE, TRAIN, EVALUATE, DEPLOY = range(6)
SIZE = (1240, 860)  # initial window size


class RetrainWizard(QWizard):
    """Adapts the inspection to a new product or a drifted process, without a data scientist.

    Args:
        plan: the plan the pages edit (a fresh ``RetrainPlan()``, or one with ``dataset`` set to continue).
        latest: the live window's newest publication (a frame with its verdict), or None (never blocks).
        deploy: swaps a model file into the running inspection (``MainWindow.load_model``).
        registry: the model versions.
        parent: the main window.
        camera_settings: returns the camera's settings, stored with every captured frame.
        datasets_root: where new datasets are created (default ``data_home()/datasets``).
        threads: torch CPU threads of the training and timing processes (None = torch's default).
        eval_device: device for evaluation and previews.
        current_model: the model file the live window runs (compared on the Evaluate page); default: the
            registry's active version.
        cameras: the station's cameras when it has several: the Collect page offers the choice, and ``latest``,
            ``deploy``, ``camera_settings`` and ``current_model`` act on ``wizard.ctx.camera``.
    """

    def __init__(self, plan: RetrainPlan, *, latest: Callable[[], LiveResult | None],
                 deploy: Callable[[Path], None], registry: ModelRegistry,
                 parent: QWidget | None = None, camera_settings: Callable[[], dict] | None = None,
                 datasets_root: Path | None = None, threads: int | None = None, eval_device: str = "cpu",
                 current_model: Callable[[], Path | None] | None = None,
                 cameras: Sequence[str] = ()) -> None:  # fmt: skip
        super().__init__(parent)
        self.plan = plan
        self.jobs = JobSet()
        self.destroyed.connect(lambda *_, jobs=self.jobs: jobs.stop_all(0))  # deleted without closing
        self.runner = TrainingRunner(threads=threads)
        self.ctx = WizardContext(plan, latest, deploy, registry, self.runner, self.jobs,
                                 Path(datasets_root) if datasets_root else data_home() / "datasets",
                                 camera_settings=camera_settings, eval_device=eval_device,
                                 timing_threads=threads, current_model=current_model,
                                 cameras=tuple(cameras))  # fmt: skip
        self.collect_page = CollectPage(self.ctx)
        self.review_page = ReviewPage(self.ctx)
        self.configure_page = ConfigurePage(self.ctx)
        self.train_page = TrainPage(self.ctx)
        self.evaluate_page = EvaluatePage(self.ctx)
        self.deploy_page = DeployPage(self.ctx)
        pages = (self.collect_page, self.review_page, self.configure_page, self.train_page, self.evaluate_page,
                 self.deploy_page)  # fmt: skip
        for page_id, page in enumerate(pages):
            self.setPage(page_id, page)
        self.setWindowTitle("Retrain the inspection model")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.resize(*SIZE)
        self.question: QMessageBox | None = None  # the "training is running" question while it is open
        self._close_after_training = False
        self.suspended = False  # hidden by the switch to operator mode while its training runs

    # --- closing -------------------------------------------------------------------------------------

    def reject(self) -> None:
        """Cancel, Esc and the window's close button: ask first while training runs."""
        if self.runner.running:
            self._ask_about_training()
            return
        self._shutdown()
        super().reject()

    def accept(self) -> None:
        if self.runner.running:
            self._ask_about_training()
            return
        self._shutdown()
        super().accept()

    def close_for_operator(self) -> None:
        """Close now, without asking: the window went to operator mode, who must not deploy or roll back.

        A running training keeps going in its own process: the wizard is then only hidden (``suspended``) and
        keeps following it, and Retrain… in engineer mode shows it again with its progress. Otherwise it closes
        as Cancel does. Dialogs it has open are dismissed (the training question as "keep training").
        """
        for dialog in self.findChildren(QDialog):
            if dialog.isVisible():
                dialog.reject()
        if self.runner.running:
            self.suspended = True
            self.hide()
        else:
            self.reject()

    def resume_for_engineer(self) -> None:
        """Show the wizard again (Retrain… in engineer mode)."""
        self.suspended = False
        self.show()
        self.raise_()
        self.activateWindow()

    def _ask_about_training(self) -> None:
        if self.question is not None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Training is running",
                          "Training is still running. Stop it and close the wizard?", parent=self)  # fmt: skip
        box.setInformativeText("Stopping writes a checkpoint first: open the wizard on the same dataset again "
                               "and press Resume to continue where it stopped. Nothing is lost.")  # fmt: skip
        stop = box.addButton("Stop and keep the checkpoint", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Keep training", QMessageBox.ButtonRole.RejectRole)
        box.finished.connect(lambda _: self._answered(box.clickedButton() is stop))
        self.question = box
        box.open()  # window-modal, the event loop (and the training progress) keeps running

    def _answered(self, stop: bool) -> None:
        self.question = None
        if stop:
            self._close_after_training = True
            self.runner.cancel()
            self.train_page.status.setText("Stopping after this step and writing a checkpoint, then closing…")

    def training_ended(self) -> None:
        """Called by the Train page when a run ended; closes the wizard if the engineer asked to."""
        if self._close_after_training:
            self._close_after_training = False
            self.reject()

    def _shutdown(self) -> None:
        self.configure_page.cleanupPage()  # ends a timing run
        self.jobs.stop_all()
        self.runner.shutdown()
