"""Collect: choose a dataset, capture frames from the live camera (one, or automatically), import a folder."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)  # fmt: skip

from app.retrain.autocapture import AutoCaptureConfig, CaptureEvent, auto_capture
from app.retrain.collect import Dataset, ImageEntry, import_folder
from app.wizard.images import to_pixmap
from app.wizard.page import PageBase, WizardContext

PREVIEW_MS = 200  # live preview refresh (pulls the newest frame)
PREVIEW_SIZE = (640, 400)  # largest preview in pixels (w, h)


class CollectPage(PageBase):
    """Builds the dataset; complete once a dataset with at least one image is open and nothing is writing."""

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(
            ctx, "Collect good parts", "Capture good parts from the line or import a folder of images."
        )
        self._auto = None  # the running auto-capture job
        self._writing = False
        self._build()
        self.finish_layout()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._refresh_preview)
        self._last_frame_id: int | None = None

    def _build(self) -> None:
        self.camera_box = QComboBox()
        self.camera_box.addItems([f"{i + 1}: {name}" for i, name in enumerate(self.ctx.cameras)])
        self.camera_box.setToolTip("Frames are collected from this camera, and its model is the one retrained")
        self.camera_box.currentIndexChanged.connect(self._camera_chosen)
        if len(self.ctx.cameras) > 1:
            row = QHBoxLayout()
            row.addWidget(QLabel("Camera whose model is retrained"))
            row.addWidget(self.camera_box, 1)
            self.body.addLayout(row)
        box = QGroupBox("Dataset")
        row = QHBoxLayout(box)
        self.name_edit = QLineEdit(self.plan.dataset.name if self.plan.dataset else "")
        self.name_edit.setPlaceholderText("product or line name, e.g. flange-DRX-4127")
        self.create_btn = QPushButton("Create / open")
        self.open_btn = QPushButton("Open folder…")
        self.dataset_label = QLabel("No dataset yet.")
        for w in (QLabel("Name"), self.name_edit, self.create_btn, self.open_btn):
            row.addWidget(w)
        self.body.addWidget(box)
        self.body.addWidget(self.dataset_label)
        live = QHBoxLayout()
        self.preview = QLabel("no live frame")
        self.preview.setFixedSize(*PREVIEW_SIZE)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("background: #222; color: #aaa;")
        live.addWidget(self.preview)
        live.addLayout(self._capture_controls(), 1)
        self.body.addLayout(live)
        self.body.addStretch(1)
        self.create_btn.clicked.connect(lambda: self.open_dataset(self._folder_for_name()))
        self.open_btn.clicked.connect(self._browse_dataset)

    def _capture_controls(self) -> QVBoxLayout:
        col = QVBoxLayout()
        self.capture_btn = QPushButton("Capture current frame")
        col.addWidget(self.capture_btn)
        auto = QGroupBox("Auto-capture")
        form = QFormLayout(auto)
        self.count_spin = QSpinBox(minimum=1, maximum=10_000, value=30)
        self.every_spin = QDoubleSpinBox(minimum=0.0, maximum=3600.0, value=1.0, decimals=1, suffix=" s")
        self.only_ok = QCheckBox("only frames the current model judges OK")
        self.auto_btn = QPushButton("Start auto-capture")
        self.auto_label = QLabel("")
        form.addRow("Frames", self.count_spin)
        form.addRow("One every", self.every_spin)
        form.addRow(self.only_ok)
        form.addRow(self.auto_btn, self.auto_label)
        col.addWidget(auto)
        self.import_btn = QPushButton("Import folder…")
        col.addWidget(self.import_btn)
        col.addStretch(1)
        self.capture_btn.clicked.connect(self.capture_current)
        self.auto_btn.clicked.connect(self._toggle_auto)
        self.import_btn.clicked.connect(self._browse_import)
        return col

    def _camera_chosen(self, index: int) -> None:
        self.ctx.camera = max(0, index)
        self._last_frame_id = None  # show the chosen camera's frame at once

    # --- page protocol -----------------------------------------------------------------------------

    def initializePage(self) -> None:
        self._timer.start(PREVIEW_MS)
        if self.plan.dataset is not None and self.dataset is None:
            self.open_dataset(self.plan.dataset)
        self._update_buttons()

    def isComplete(self) -> bool:
        return self.dataset is not None and bool(self.dataset.entries) and not self._busy()

    def validatePage(self) -> bool:
        self._sync_plan()
        self._timer.stop()
        return True

    def cleanupPage(self) -> None:
        self._timer.stop()

    @property
    def dataset(self) -> Dataset | None:
        return self.ctx.dataset

    def _busy(self) -> bool:
        return self._writing or self._auto is not None

    # --- dataset -----------------------------------------------------------------------------------

    def _folder_for_name(self) -> Path:
        name = re.sub(r"[^\w.-]+", "_", self.name_edit.text().strip()).strip("._") or "dataset"
        return self.ctx.datasets_root / name

    def _browse_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open or create a dataset folder", str(self.ctx.datasets_root)
        )
        if folder:
            self.open_dataset(Path(folder))

    def open_dataset(self, folder: Path) -> None:
        """Create or open the dataset in ``folder`` (in the background)."""
        self._write(lambda stop: Dataset.create(folder), self._opened)

    def _opened(self, dataset: Dataset) -> None:
        self.ctx.dataset = dataset
        self.name_edit.setText(dataset.name)
        self._sync_plan()
        self._show_count()

    def _sync_plan(self) -> None:
        if self.dataset is None:
            return
        self.plan.dataset = self.dataset.folder
        self.plan.images = self.dataset.paths
        self.plan.defective = self.dataset.marked("defective")
        self.plan.deleted = self.dataset.marked("deleted")

    def _show_count(self, extra: str = "") -> None:
        if self.dataset is None:
            return
        dups = sum(e.near_duplicate_of is not None for e in self.dataset.entries)
        text = f"{self.dataset.folder}: {len(self.dataset.entries)} images ({dups} near-duplicates flagged)"
        self.dataset_label.setText(f"{text}. {extra}".strip())

    def _write(self, fn, on_item, on_finished=None) -> None:
        """Run a dataset write in the background; one writer at a time."""
        self._writing = True
        self._update_buttons()

        def finished() -> None:
            self._writing = False
            self._update_buttons()
            self.completeChanged.emit()
            if on_finished:
                on_finished()

        self.ctx.jobs.start(fn, on_item, self.fail, finished)

    def _update_buttons(self) -> None:
        have = self.dataset is not None
        for btn in (self.capture_btn, self.import_btn):
            btn.setEnabled(have and not self._busy())
        self.auto_btn.setEnabled(have and not self._writing)
        self.create_btn.setEnabled(not self._busy())
        self.open_btn.setEnabled(not self._busy())

    # --- capture -----------------------------------------------------------------------------------

    def capture_current(self) -> None:
        """Store the newest live frame."""
        frame = self.ctx.latest_frame()
        if frame is None or self.dataset is None:
            self.say("No live frame to capture: connect a camera in the main window.", "warn")
            return
        dataset, settings = self.dataset, self._settings()

        def store(stop):
            return dataset.add_frame(frame.image, source=frame.source_id, camera_settings=settings,
                                     frame_id=frame.frame_id)  # fmt: skip

        self._write(store, self._stored)

    def _settings(self) -> dict:
        return self.ctx.camera_settings() if self.ctx.camera_settings else {}

    def _stored(self, entry: ImageEntry) -> None:
        dup = f" (near-duplicate of {entry.near_duplicate_of})" if entry.near_duplicate_of else ""
        self.say(f"Stored {entry.file}{dup}.", "warn" if dup else "ok")
        self._sync_plan()
        self._show_count()

    def _toggle_auto(self) -> None:
        if self._auto is not None:
            self._auto.stop()
            return
        if self.dataset is None:
            return
        config = AutoCaptureConfig(self.count_spin.value(), self.every_spin.value(), self.only_ok.isChecked())
        dataset, settings, latest = self.dataset, self.ctx.camera_settings, self.ctx.latest

        def run(stop):
            return auto_capture(dataset, latest, config, camera_settings=settings, should_stop=stop)

        self._auto = self.ctx.jobs.start(run, self._auto_event, self.fail, self._auto_finished)
        self.auto_btn.setText("Stop auto-capture")
        self._update_buttons()
        self.completeChanged.emit()

    def _auto_event(self, event: CaptureEvent) -> None:
        self.auto_label.setText(f"{event.stored} / {event.wanted}")
        if event.kind == "captured" and event.entry is not None:
            self._stored(event.entry)
        elif event.message:
            self.say(event.message, "warn" if event.kind in ("skipped", "stalled") else "info")

    def _auto_finished(self) -> None:
        self._auto = None
        self.auto_btn.setText("Start auto-capture")
        self._update_buttons()
        self.completeChanged.emit()

    def _browse_import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import images from a folder")
        if folder:
            self.import_from(Path(folder))

    def import_from(self, folder: Path) -> None:
        """Copy every image under ``folder`` into the dataset (in the background)."""
        if self.dataset is None:
            return
        dataset, problems = self.dataset, []

        def progress(item) -> None:
            done, total, entry, problem = item
            if problem:
                problems.append(problem)
            self.dataset_label.setText(f"Importing {done} / {total}…")

        def finished() -> None:
            self._sync_plan()
            self._show_count()
            if problems:
                self.say(f"{len(problems)} files skipped: {problems[0]}", "warn")
            else:
                self.say(f"Imported {folder}.", "ok")

        self._write(lambda stop: import_folder(dataset, folder, stop), progress, finished)

    def _refresh_preview(self) -> None:
        frame = self.ctx.latest_frame()
        if frame is None or frame.frame_id == self._last_frame_id:
            return
        self._last_frame_id = frame.frame_id
        self.preview.setPixmap(to_pixmap(frame.image, *PREVIEW_SIZE))
