"""Walk the whole retrain wizard on real ball-screw images: collect → review → configure → train → evaluate →
deploy, then roll back. Set WIZARD_SCREENSHOTS=<folder> to save a picture of every page on the way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox, QWizard

from app.pipeline.record import LiveResult
from app.registry import ModelRegistry
from app.retrain.plan import RetrainPlan
from app.sources.base import Frame
from app.sources.folder import FolderSource, FolderSourceConfig
from app.wizard import RetrainWizard
from app.wizard.wizard import TRAIN
from draem_core.modelfile import read_file
from draem_core.version import MODEL_FORMAT

pytestmark = [pytest.mark.gui, pytest.mark.slow]
WAIT_MS = 120_000  # training and timing start processes; generous for a small shared CI machine
SHOTS = os.environ.get("WIZARD_SCREENSHOTS")


class LiveSlot:
    """The live window's newest publication over a real frame source (shown frames, no model inspecting)."""

    def __init__(self, source: FolderSource) -> None:
        self.source = source
        self.frame: Frame | None = None

    def __call__(self) -> LiveResult | None:
        newest = self.source.latest()
        if newest is not None:
            self.frame = newest
        return LiveResult(self.frame.frame_id, self.frame, None, None, 0.0, 0.0) if self.frame else None


@pytest.fixture
def live(ball_screw: Path):
    source = FolderSource(FolderSourceConfig(str(ball_screw / "test" / "good"), fps=20.0))
    source.open()
    source.start()
    yield LiveSlot(source)
    source.stop()
    source.close()


def _plan() -> RetrainPlan:
    # The smallest real run: micro network, 64x160, a few steps (the form edits are checked on the way).
    return RetrainPlan(
        preset="micro", size=(64, 160), budget=4, batch_size=2, device="cpu", checkpoint_every=2
    )


def _shot(wizard: QWizard, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        wizard.grab().save(str(Path(SHOTS) / f"wizard_{name}.png"))


def test_walk_the_wizard_deploy_and_roll_back(qtbot, tmp_path: Path, ball_screw: Path, region_model: Path,
                                              live: LiveSlot) -> None:  # fmt: skip
    registry = ModelRegistry(tmp_path / "models")
    old = registry.activate(registry.add(region_model).id)  # the line runs a model with an inspection region
    region = read_file(region_model, MODEL_FORMAT)[1]["roi"]
    deployed: list[Path] = []
    wizard = RetrainWizard(_plan(), latest=live, deploy=deployed.append,
                           registry=registry, datasets_root=tmp_path / "datasets", threads=1)  # fmt: skip
    qtbot.addWidget(wizard)
    wizard.show()
    next_btn = wizard.button(QWizard.WizardButton.NextButton)

    # Collect: a named dataset, one live capture, auto-capture, then a folder import.
    collect = wizard.collect_page
    assert not collect.isComplete()
    collect.name_edit.setText("ball screw line 2")
    collect.create_btn.click()
    qtbot.waitUntil(
        lambda: wizard.ctx.dataset is not None and collect.isComplete() is False and not collect._busy()
    )
    qtbot.waitUntil(lambda: live() is not None)
    collect.capture_current()
    qtbot.waitUntil(lambda: len(wizard.ctx.dataset.entries) == 1 and not collect._busy())
    collect.count_spin.setValue(2)
    collect.every_spin.setValue(0.1)
    collect.auto_btn.click()
    qtbot.waitUntil(lambda: len(wizard.ctx.dataset.entries) == 3 and not collect._busy(), timeout=10_000)
    imports = tmp_path / "imports"
    imports.mkdir()
    for p in sorted((ball_screw / "train" / "good").glob("*.jpg"))[:20]:
        shutil.copy(p, imports / p.name)
    collect.import_from(imports)
    qtbot.waitUntil(lambda: len(wizard.ctx.dataset.entries) == 23 and collect.isComplete(), timeout=20_000)
    assert wizard.ctx.dataset.folder == tmp_path / "datasets" / "ball_screw_line_2"
    captured = wizard.ctx.dataset.entries[:3]
    assert all(e.source.endswith(".jpg") and e.frame_id is not None for e in captured)  # provenance kept
    assert captured[1].frame_id != captured[2].frame_id  # auto-capture never stores the same frame twice
    qtbot.waitUntil(lambda: collect.preview.pixmap() is not None and not collect.preview.pixmap().isNull())
    _shot(wizard, "1_collect")
    next_btn.click()

    # Review: thumbnails, one real defect marked, refusal below 20 good images, one image deleted.
    review = wizard.review_page
    assert wizard.currentPage() is review
    qtbot.waitUntil(lambda: len(review.model._pixmaps) == 23, timeout=20_000)
    plan = wizard.plan
    pitted = plan.images[3]
    review.select([pitted])
    review.mark_selected(True)
    assert plan.defect_images == [pitted] and "DEFECTIVE" in review.model.data(review.model.index(3))
    review.select(plan.images[4:7])
    review.delete_selected()
    assert len(plan.good_images) == 19 and not review.isComplete() and not next_btn.isEnabled()
    assert "at least 20 are needed" in review.message.text()
    review.undo_delete()
    review.select([plan.images[4]])
    review.delete_selected()
    assert len(plan.good_images) == 21 and review.isComplete() and "50 or more" in review.message.text()
    _shot(wizard, "2_review")
    next_btn.click()

    # Configure: settings edit the plan; the ETA is measured; synthetic anomalies on the engineer's images.
    conf = wizard.configure_page
    qtbot.waitUntil(conf.roi_check.isEnabled)  # the deployed model's region is offered, and taken by default
    assert conf.roi_check.isChecked() and list(plan.roi) == region and "240x190 at (150, 20)" in conf.roi_check.text()
    conf.budget_spin.setValue(6)
    assert plan.budget == 6
    qtbot.waitUntil(lambda: conf.eta is not None, timeout=WAIT_MS)
    assert "6 steps take about" in conf.eta_label.text()
    qtbot.waitUntil(lambda: conf.cells[0].pixmap() is not None and not conf.cells[0].pixmap().isNull())
    _shot(wizard, "3_configure")
    next_btn.click()

    # Train: in its own process; live curves; complete when the model file is written.
    train = wizard.train_page
    qtbot.waitUntil(train.isComplete, timeout=WAIT_MS)
    assert plan.model_out is not None and plan.model_out.is_file()
    assert train.history["step"] == list(range(1, 7)) and train.progress.value() == train.progress.maximum()
    assert read_file(plan.model_out, MODEL_FORMAT)[1]["roi"] == region  # the new model inspects the same region
    _shot(wizard, "4_train")
    next_btn.click()

    # Evaluate: both models on the same images; dragging the threshold changes the rates shown.
    ev = wizard.evaluate_page
    qtbot.waitUntil(ev.isComplete, timeout=WAIT_MS)
    comp = ev.comparison
    assert comp.deployed is not None and comp.deployed.path == old.model_path
    assert comp.new.good.size == plan.holdout_count == comp.deployed.good.size
    assert comp.new.real.size == 1 and comp.new.synthetic.size >= 16
    assert "region" not in comp.note  # both models inspect the same region
    high = float(max(comp.new.good.max(), comp.new.synthetic.max(), comp.new.real.max())) + 0.001
    ev.new_hist.set_threshold(high)  # what a drag to the right does
    assert plan.threshold == pytest.approx(high)
    assert ev.table[1][0].text() == "0.0%" and ev.table[2][0].text() == "100.0%"  # new: rejects, escapes
    assert "false rejects 0.0%" in ev.new_hist.rates.text()
    _shot(wizard, "5_evaluate")
    next_btn.click()

    # Deploy: a new registry version, active, swapped into the running inspection; then roll back.
    dp = wizard.deploy_page
    dp.deploy_btn.click()
    qtbot.waitUntil(lambda: len(deployed) == 1, timeout=20_000)
    new = registry.active()
    assert new.id == "v0002" and new.parent == old.id and deployed == [new.model_path]
    assert new.threshold == pytest.approx(high) and new.metrics["false_reject"] == 0.0
    assert new.dataset_fingerprint == read_file(plan.model_out, MODEL_FORMAT)[1]["dataset_fingerprint"]
    qtbot.waitUntil(lambda: [v.id for v in dp.versions] == ["v0001", "v0002"] and dp.active_id == "v0002")
    _shot(wizard, "6_deploy")
    dp.reactivate(old.id)
    qtbot.waitUntil(lambda: len(deployed) == 2, timeout=20_000)
    assert registry.active_id() == old.id and deployed[-1] == old.model_path
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert not wizard.isVisible()


def _button(box: QMessageBox, role: QMessageBox.ButtonRole):
    return next(b for b in box.buttons() if box.buttonRole(b) == role)


def test_closing_while_training_asks_and_loses_nothing(qtbot, tmp_path: Path, demo_data: Path) -> None:
    images = sorted((demo_data / "train" / "good").glob("*.png"))[:22]
    plan = RetrainPlan(dataset=tmp_path / "ds", images=images, preset="micro", size=(64, 160), budget=10_000,
                       batch_size=2, device="cpu", checkpoint_every=2)  # fmt: skip

    def open_wizard() -> RetrainWizard:
        wizard = RetrainWizard(plan, latest=lambda: None, deploy=lambda p: None,
                               registry=ModelRegistry(tmp_path / "models"), threads=1)  # fmt: skip
        qtbot.addWidget(wizard)
        wizard.setStartId(TRAIN)  # the plan is complete: go straight to training
        wizard.show()
        return wizard

    wizard = open_wizard()
    qtbot.waitUntil(lambda: len(wizard.train_page.history["step"]) >= 3, timeout=WAIT_MS)
    wizard.reject()  # the Cancel button / the window's close button
    box = wizard.question
    assert isinstance(box, QMessageBox) and wizard.isVisible() and wizard.runner.running
    _button(box, QMessageBox.ButtonRole.RejectRole).click()  # "Keep training"
    assert wizard.isVisible() and wizard.runner.running and wizard.question is None
    wizard.reject()
    _button(wizard.question, QMessageBox.ButtonRole.AcceptRole).click()  # "Stop and keep the checkpoint"
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=WAIT_MS)
    stopped_at = wizard.runner.last_checkpoint[0]
    assert stopped_at == wizard.train_page.history["step"][-1]  # the cancel checkpoint holds every step made

    plan.budget = stopped_at + 2
    again = open_wizard()
    qtbot.waitUntil(lambda: again.train_page.resume_btn.isEnabled())  # the interrupted run is found
    assert f"stopped at step {stopped_at}" in again.train_page.message.text() and not again.runner.running
    again.train_page.resume_btn.click()
    qtbot.waitUntil(again.train_page.isComplete, timeout=WAIT_MS)
    assert again.train_page.history["step"] == [stopped_at + 1, stopped_at + 2]
    assert plan.model_out is not None and plan.model_out.is_file()
