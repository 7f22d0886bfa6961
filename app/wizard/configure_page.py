"""Configure: network, size, budget with a measured ETA, device, anomaly source, held-out share, name.

The ETA comes from a short timing run in its own process; a grid shows synthetic anomalies pasted into the
engineer's own images, so they can judge whether the anomaly source resembles their defects.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2
import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWizard,
)  # fmt: skip

from app.retrain.evaluation import synthetic_defects, to_hwc
from app.retrain.plan import DEFAULT_SIZE, MAX_SIDE, MIN_SIDE, suggest_size
from app.retrain.timing import Eta, TimingRun
from app.wizard.images import to_pixmap
from app.wizard.page import PageBase, WizardContext
from draem_core.alignment import ALIGN_SCALE
from draem_core.config import PRESETS
from draem_core.imageio import read_image
from draem_core.modelfile import read_file
from draem_core.overlay import draw_contours
from draem_core.region import Roi, as_roi, describe_roi, fits
from draem_core.train import reference_part
from draem_core.training_data import load_training_images
from draem_core.version import MODEL_FORMAT

PRESET_HINTS = {
    "paper": "97 M parameters: the paper's network, needs a large GPU",
    "half": "24 M parameters: mid-range GPU",
    "compact": "6 M parameters: GPU, or a CPU in about an hour",
    "tiny": "1.5 M parameters: fast on a CPU",
    "cpu": "small reconstruction, compact detector: the CPU retraining preset",
    "micro": "smallest network: for trying the workflow only",
}
DEFAULT_BUDGET = {"steps": 2000, "minutes": 30}  # budget proposed when the kind changes
PREVIEW_COUNT = 8  # synthetic-anomaly examples shown
PREVIEW_COLUMNS = 4
PREVIEW_CELL = (180, 100)  # pixels per example (w, h)
SETTLE_MS = 900  # wait this long after the last change before measuring again
POLL_MS = 200  # timing-run polling


class ConfigurePage(PageBase):
    """Edits the plan's training settings; complete when the plan validates."""

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(
            ctx, "Configure training", "Defaults suit most lines; the ETA is measured on this machine."
        )
        self.eta: Eta | None = None
        self._timing: TimingRun | None = None
        self._timing_dir: Path | None = None
        self._sized = False
        form_box = QGroupBox("Settings")
        self.form = QFormLayout(form_box)
        self._build_form()
        row = QHBoxLayout()
        row.addWidget(form_box, 2)
        row.addWidget(self._build_preview(), 3)
        self.body.addLayout(row, 1)
        eta_row = QHBoxLayout()
        self.eta_label = QLabel("ETA: not measured yet")
        self.eta_label.setWordWrap(True)
        self.measure_btn = QPushButton("Measure speed")
        self.measure_btn.clicked.connect(self.measure)
        eta_row.addWidget(self.eta_label, 1)
        eta_row.addWidget(self.measure_btn)
        self.body.addLayout(eta_row)
        self.finish_layout()
        self._settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._poll_timing)
        self.setButtonText(QWizard.WizardButton.NextButton, "Train >")

    def _build_form(self) -> None:
        p = self.plan
        self.preset_combo = QComboBox()
        self.preset_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.preset_combo.setMinimumContentsLength(24)
        for name in PRESETS:
            self.preset_combo.addItem(f"{name} — {PRESET_HINTS.get(name, '')}", name)
        self.preset_combo.setCurrentIndex(list(PRESETS).index(p.preset) if p.preset in PRESETS else 0)
        self.height_spin = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, singleStep=32, value=p.size[0])
        self.width_spin = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, singleStep=32, value=p.size[1])
        size_row = QHBoxLayout()
        for w in (self.height_spin, QLabel("×"), self.width_spin, QLabel("(height × width)")):
            size_row.addWidget(w)
        size_row.addStretch(1)
        self.budget_kind = QComboBox()
        self.budget_kind.addItems(["steps", "minutes"])
        self.budget_kind.setCurrentText(p.budget_kind)
        self.budget_spin = QDoubleSpinBox(minimum=1, maximum=1_000_000, decimals=0, value=p.budget)
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.budget_spin)
        budget_row.addWidget(self.budget_kind)
        self.batch_spin = QSpinBox(minimum=1, maximum=256, value=p.batch_size)
        self.device_combo = QComboBox()
        devices = ["auto", "cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        self.device_combo.addItems(devices)
        self.device_combo.setCurrentText(p.device if p.device in devices else "auto")
        self.source_edit = QLineEdit(str(p.anomaly_source or ""))
        self.source_edit.setPlaceholderText("bundled textures")
        browse = QPushButton("Folder…")
        browse.clicked.connect(self._browse_source)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(browse)
        self.holdout_spin = QSpinBox(minimum=5, maximum=50, suffix=" %", value=round(p.holdout_share * 100))
        self.name_edit = QLineEdit(p.name)
        self.name_edit.setPlaceholderText(p.model_name())
        self.roi_check = QCheckBox("whole image (the deployed model has no inspection region)")
        self.roi_check.setEnabled(False)
        self.roi_check.toggled.connect(self._changed_speed)
        self._offered_roi: Roi | None = None
        self._offered_align: float | None = None  # the deployed model aligns parts first, at this scale
        rows = (("Network", self.preset_combo), ("Region", self.roi_check), ("Input size", size_row),
                ("Budget", budget_row),
                ("Batch", self.batch_spin), ("Device", self.device_combo), ("Anomaly source", source_row),
                ("Held out", self.holdout_spin), ("Model name", self.name_edit))  # fmt: skip
        for label, widget in rows:
            self.form.addRow(label, widget)
        for signal in (self.preset_combo.currentIndexChanged, self.height_spin.valueChanged,
                       self.width_spin.valueChanged, self.batch_spin.valueChanged,
                       self.device_combo.currentIndexChanged, self.source_edit.editingFinished):  # fmt: skip
            signal.connect(self._changed_speed)
        self.budget_kind.currentTextChanged.connect(self._budget_kind_changed)
        for signal in (self.budget_spin.valueChanged,
                       self.holdout_spin.valueChanged, self.name_edit.textChanged):  # fmt: skip
            signal.connect(self._changed)

    def _build_preview(self) -> QGroupBox:
        box = QGroupBox("Synthetic anomalies on your images (what the network learns to find)")
        self.grid = QGridLayout(box)
        self.cells = []
        for i in range(PREVIEW_COUNT):
            cell = QLabel()
            cell.setFixedSize(*PREVIEW_CELL)
            cell.setStyleSheet("background: #222;")
            self.grid.addWidget(cell, i // PREVIEW_COLUMNS, i % PREVIEW_COLUMNS)
            self.cells.append(cell)
        return box

    # --- page protocol -----------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.name_edit.setPlaceholderText(self.plan.model_name())
        if not self._sized and self.plan.good_images:
            self._sized = True
            first, deployed = self.plan.good_images[0], self.ctx.deployed_model
            size_it = self.plan.size == DEFAULT_SIZE
            self.ctx.jobs.start(  # disk reads: off the GUI thread
                lambda stop: (read_image(first).shape[:2], *deployed_region(deployed())),
                lambda found: self._first_look(*found, size_it),
            )
        else:
            self._settled()

    def _first_look(self, image_hw: tuple[int, int], roi: Roi | None, align: float | None, size_it: bool) -> None:
        """Offer the deployed model's inspection region (when the images contain it) and suggest a size."""
        if roi is not None and fits(image_hw, roi):
            self._offered_roi, self._offered_align = roi, align
            aligned = ", parts aligned first" if align is not None else ""
            self.roi_check.setText(f"the deployed model's inspection region, {describe_roi(roi)}{aligned}")
            self.roi_check.setEnabled(True)
            self.roi_check.setChecked(True)
            image_hw = (roi[3], roi[2])
        elif roi is not None:
            self.roi_check.setText(f"whole image (it lacks the deployed model's region {describe_roi(roi)})")
        if size_it:
            sh, sw = suggest_size(tuple(image_hw))
            self.height_spin.setValue(sh)  # the change measures the ETA and redraws the preview
            self.width_spin.setValue(sw)
        self._changed_speed()

    def isComplete(self) -> bool:
        check = self.plan.check()
        return check.ok

    def validatePage(self) -> bool:
        self._read_form()
        self._stop_timing()
        return self.plan.check().ok

    def cleanupPage(self) -> None:
        self._stop_timing()

    # --- form -> plan ------------------------------------------------------------------------------

    def _read_form(self) -> None:
        p = self.plan
        p.preset = self.preset_combo.currentData()
        p.size = (self.height_spin.value(), self.width_spin.value())
        p.budget_kind = self.budget_kind.currentText()
        p.budget = float(self.budget_spin.value())
        p.batch_size = self.batch_spin.value()
        p.device = self.device_combo.currentText()
        text = self.source_edit.text().strip()
        p.anomaly_source = Path(text) if text else None
        p.holdout_share = self.holdout_spin.value() / 100.0
        p.name = self.name_edit.text().strip()
        p.roi = self._offered_roi if self.roi_check.isChecked() else None
        p.align = self._offered_align is not None and p.roi is not None
        if p.align:
            p.align_scale = self._offered_align

    def _changed(self) -> None:
        self._read_form()
        self._show_check()
        self._show_eta()

    def _budget_kind_changed(self, kind: str) -> None:
        self.budget_spin.setValue(DEFAULT_BUDGET[kind])  # 2000 minutes or 30 steps would be a typo
        self._changed()

    def _changed_speed(self) -> None:
        self._changed()
        self._settle.start()

    def _settled(self) -> None:
        self._read_form()
        self._show_check()
        if self.plan.check().ok:
            self.measure()
            self.refresh_preview()

    def _show_check(self) -> None:
        check = self.plan.check()
        if check.errors:
            self.say(" ".join(check.errors), "error")
        elif check.warnings:
            self.say(" ".join(check.warnings), "warn")
        else:
            self.say("Ready to train.", "ok")
        self.completeChanged.emit()

    def _browse_source(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of texture images for synthetic anomalies")
        if folder:
            self.source_edit.setText(folder)
            self._changed_speed()

    # --- ETA -----------------------------------------------------------------------------------------

    def measure(self) -> None:
        """Start a timing run of the current settings (a few real steps in a separate process)."""
        self._stop_timing()
        self._read_form()
        if not self.plan.check().ok:
            return
        self._timing_dir = Path(tempfile.mkdtemp(prefix="draem-timing-"))
        self._timing = TimingRun(self.plan, self._timing_dir, threads=self.ctx.timing_threads)
        self._timing.start()
        self.eta_label.setText("ETA: measuring a few training steps on the chosen device…")
        self._poll.start()

    def _poll_timing(self) -> None:
        if self._timing is None:
            return
        eta = self._timing.poll()
        if self._timing.runner.running:
            return
        if eta is None:
            self.eta_label.setText(f"ETA: could not measure ({self._timing.error})")
        self.eta = eta or self.eta
        self._stop_timing()
        self._show_eta()

    def _show_eta(self) -> None:
        if self.eta is not None:
            self.eta_label.setText(f"ETA: {self.eta.describe(self.plan)}")

    def _stop_timing(self) -> None:
        self._poll.stop()
        if self._timing is not None and self._timing.runner.running:
            self._timing.runner.kill()
        self._timing = None
        if self._timing_dir is not None:
            shutil.rmtree(self._timing_dir, ignore_errors=True)
            self._timing_dir = None

    # --- synthetic preview -----------------------------------------------------------------------------

    def refresh_preview(self) -> None:
        """Paste synthetic anomalies into a few of the engineer's images (in the background)."""
        paths, size, source = self.plan.good_images[:PREVIEW_COUNT], self.plan.size, self.plan.anomaly_source
        roi, align = self.plan.roi, (self.plan.align_scale if self.plan.align else None)
        self.ctx.jobs.start(lambda stop: make_preview(paths, size, source, roi, align), self._show_preview, self.fail)

    def _show_preview(self, images) -> None:
        for cell, image in zip(self.cells, images, strict=False):
            cell.setPixmap(to_pixmap(image, *PREVIEW_CELL))


def deployed_region(model: Path | None) -> tuple[Roi | None, float | None]:
    """The inspection region of the deployed model and the scale at which it aligns parts first (None when it
    does not). (None, None) when it has no region or cannot be read: the engineer then trains on whole images,
    and the Deploy page reports a broken model."""
    if model is None:
        return None, None
    try:
        meta = read_file(model, MODEL_FORMAT)[1]
        alignment = meta.get("alignment") or None
        return as_roi(meta.get("roi")), (float(alignment.get("scale", ALIGN_SCALE)) if alignment else None)
    except Exception:  # noqa: BLE001
        return None, None


def make_preview(paths: list[Path], size: tuple[int, int], source: Path | None, roi: Roi | None = None,
                 align: float | None = None) -> list:
    """Synthetic anomalies on ``paths`` (their ``roi`` window; with ``align``, registered at that scale to the
    first of them, as training registers to a reference part) at model ``size``, each outlined (RGB arrays)."""
    aligner = reference_part(paths, roi, paths[0].parent, align) if align is not None and paths else None
    loaded, _ = load_training_images(paths, [], size, roi, aligner)
    images, masks = synthetic_defects(loaded.train, source, seed=7)
    out = []
    for image, mask in zip(to_hwc(images), masks.numpy(), strict=True):
        scale = min(PREVIEW_CELL[0] / image.shape[1], PREVIEW_CELL[1] / image.shape[0])
        shape = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, shape, interpolation=cv2.INTER_LINEAR)
        draw_contours(image, cv2.resize(mask.astype("uint8"), shape, interpolation=cv2.INTER_NEAREST) > 0)
        out.append(image)
    return out
