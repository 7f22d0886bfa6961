"""Review: a thumbnail grid to open, delete and mark defective images; refuses fewer than 20 good images."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QListView, QPushButton, QVBoxLayout

from app.retrain.plan import ADVISED_GOOD, MIN_GOOD
from app.wizard.images import to_pixmap
from app.wizard.page import PageBase, WizardContext
from app.wizard.thumbnails import THUMB, ThumbnailModel, load_thumbnails
from draem_core.imageio import read_image

VIEWER_SIZE = (1100, 700)  # largest size of the full-image viewer


class ReviewPage(PageBase):
    """Edits ``plan.deleted`` and ``plan.defective``; complete while the plan has enough good images."""

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(
            ctx, "Review the images", "Delete poor images; mark real defects (used only to evaluate)."
        )
        self.model: ThumbnailModel | None = None
        self._undo: list[set[Path]] = []
        self._viewer: QDialog | None = None
        self._thumbs = None
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setIconSize(THUMB)
        self.view.setGridSize(QSize(THUMB.width() + 24, THUMB.height() + 34))
        self.view.setUniformItemSizes(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.view.doubleClicked.connect(lambda index: self.open_image(self.model.path_at(index.row())))
        self.body.addWidget(self.view, 1)
        self.body.addLayout(self._buttons())
        self.counts = QLabel()
        self.body.addWidget(self.counts)
        self.finish_layout()

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        actions = (("Open", self._open_selected), ("Delete", self.delete_selected),
                   ("Mark defective", lambda: self.mark_selected(True)), ("Mark good", lambda: self.mark_selected(False)),
                   ("Delete near-duplicates", self.delete_duplicates), ("Undo delete", self.undo_delete))  # fmt: skip
        for text, slot in actions:
            btn = QPushButton(text)
            btn.clicked.connect(slot)
            row.addWidget(btn)
        row.addStretch(1)
        return row

    # --- page protocol -----------------------------------------------------------------------------

    def initializePage(self) -> None:
        dataset = self.ctx.dataset
        dups = (
            {dataset.path(e): e.near_duplicate_of for e in dataset.entries if e.near_duplicate_of}
            if dataset
            else {}
        )
        self.model = ThumbnailModel(self.plan, dups)
        self.view.setModel(self.model)
        if self._thumbs is not None:
            self._thumbs.stop()
        paths = list(self.model.rows)
        self._thumbs = self.ctx.jobs.start(
            lambda stop: load_thumbnails(paths, stop), self._thumb_loaded, self.fail
        )
        self._update_counts()

    def _thumb_loaded(self, item) -> None:
        if self.model is not None:
            self.model.set_thumbnail(*item)

    def isComplete(self) -> bool:
        return self.plan.check().ok

    def validatePage(self) -> bool:
        dataset, defective, deleted = self.ctx.dataset, set(self.plan.defective), set(self.plan.deleted)
        if dataset is not None:  # the marks survive in the manifest when the wizard is reopened
            self.ctx.jobs.start(lambda stop: dataset.set_marks(defective, deleted), None, self.fail)
        return True

    # --- actions -----------------------------------------------------------------------------------

    def selected_paths(self) -> list[Path]:
        if self.model is None:
            return []
        return [self.model.path_at(i.row()) for i in self.view.selectionModel().selectedIndexes()]

    def select(self, paths: list[Path]) -> None:
        """Select the rows of ``paths`` (used by the Delete/Mark buttons' callers and tests)."""
        from PySide6.QtCore import QItemSelectionModel

        sel = self.view.selectionModel()
        sel.clearSelection()
        for path in paths:
            if self.model is not None and path in self.model.rows:
                sel.select(
                    self.model.index(self.model.rows.index(path)), QItemSelectionModel.SelectionFlag.Select
                )

    def delete_selected(self) -> None:
        self._delete(set(self.selected_paths()))

    def delete_duplicates(self) -> None:
        if self.model is not None:
            self._delete(set(self.model.duplicates) - self.plan.deleted)

    def _delete(self, paths: set[Path]) -> None:
        if not paths or self.model is None:
            return
        self._undo.append(paths)
        self.plan.deleted |= paths
        self.model.reload()
        self._update_counts()

    def undo_delete(self) -> None:
        if self._undo and self.model is not None:
            self.plan.deleted -= self._undo.pop()
            self.model.reload()
            self._update_counts()

    def mark_selected(self, defective: bool) -> None:
        paths = set(self.selected_paths())
        if defective:
            self.plan.defective |= paths
        else:
            self.plan.defective -= paths
        if self.model is not None:
            self.model.refresh(paths)
        self._update_counts()

    def _open_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.open_image(paths[0])

    def open_image(self, path: Path) -> None:
        """Show one image full size in a window (read in the background)."""
        self.ctx.jobs.start(lambda stop: (path, read_image(path)), self._show_image, self.fail)

    def _show_image(self, item) -> None:
        path, image = item
        if self._viewer is None:
            self._viewer = QDialog(self)
            self._viewer.setLayout(QVBoxLayout())
            self._viewer.layout().addWidget(QLabel())
        self._viewer.setWindowTitle(str(path))
        self._viewer.layout().itemAt(0).widget().setPixmap(to_pixmap(image, *VIEWER_SIZE))
        self._viewer.show()

    def _update_counts(self) -> None:
        p = self.plan
        n_good = len(p.good_images)
        dups = len(set(self.model.duplicates) - p.deleted) if self.model else 0
        self.counts.setText(f"{n_good} good for training ({p.holdout_count} held out) · {len(p.defect_images)} "
                            f"marked defective · {len(p.deleted)} deleted · {dups} near-duplicates")  # fmt: skip
        if n_good < MIN_GOOD:
            self.say(
                f"Only {n_good} good images: at least {MIN_GOOD} are needed. Go back and collect more.",
                "error",
            )
        elif n_good < ADVISED_GOOD:
            self.say(
                f"{n_good} good images will train, but {ADVISED_GOOD} or more give a more reliable model.",
                "warn",
            )
        else:
            self.say(f"{n_good} good images: enough to train.", "ok")
        self.completeChanged.emit()
