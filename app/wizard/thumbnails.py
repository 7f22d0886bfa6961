"""The Review page's thumbnail grid: a list model over the plan's images, thumbnails loaded in the background."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPixmap

from app.retrain.plan import RetrainPlan
from app.wizard.images import thumbnail, to_pixmap
from draem_core.errors import ImageReadError
from draem_core.imageio import read_image

THUMB = QSize(200, 110)  # thumbnail box in pixels
DEFECT_BG = QColor(255, 205, 205)  # background of images marked defective
DUPLICATE_BG = QColor(255, 236, 179)  # background of near-duplicates
UNREADABLE_BG = QColor(220, 220, 220)  # background of images that cannot be read

_Index = QModelIndex | QPersistentModelIndex


def load_thumbnails(paths: list[Path], should_stop) -> Iterator[tuple[Path, np.ndarray | None, str]]:
    """``(path, thumbnail or None, problem)`` per image (run off the GUI thread)."""
    for path in paths:
        if should_stop():
            return
        try:
            yield path, thumbnail(read_image(path), THUMB.width(), THUMB.height()), ""
        except ImageReadError as exc:
            yield path, None, exc.reason


class ThumbnailModel(QAbstractListModel):
    """Rows are the plan's images that are not deleted; the plan stays the single source of truth."""

    def __init__(self, plan: RetrainPlan, duplicates: dict[Path, str] | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.duplicates = duplicates or {}  # image -> file name of the earlier image it nearly repeats
        self.rows: list[Path] = []
        self._pixmaps: dict[Path, QPixmap] = {}
        self.unreadable: dict[Path, str] = {}
        self.reload()

    def reload(self) -> None:
        """Re-read the rows from the plan (after deletes)."""
        self.beginResetModel()
        self.rows = [p for p in self.plan.images if p not in self.plan.deleted]
        self.endResetModel()

    def set_thumbnail(self, path: Path, image: np.ndarray | None, problem: str) -> None:
        """Store a loaded thumbnail (GUI thread) and repaint its row."""
        if image is None:
            self.unreadable[path] = problem
        else:
            self._pixmaps[path] = to_pixmap(image)
        self._changed(path)

    def _changed(self, path: Path) -> None:
        if path in self.rows:
            index = self.index(self.rows.index(path))
            self.dataChanged.emit(index, index)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008  (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        path = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._caption(path)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pixmaps.get(path)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._background(path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(path)
        if role == Qt.ItemDataRole.UserRole:
            return path
        return None

    def _caption(self, path: Path) -> str:
        tags = []
        if path in self.plan.defective:
            tags.append("DEFECTIVE")
        if path in self.duplicates:
            tags.append("near-dup")
        if path in self.unreadable:
            tags.append("UNREADABLE")
        return " · ".join([*tags, path.name])  # tags first: the view elides long names in the middle

    def _background(self, path: Path) -> QBrush | None:
        if path in self.unreadable:
            return QBrush(UNREADABLE_BG)
        if path in self.plan.defective:
            return QBrush(DEFECT_BG)
        if path in self.duplicates:
            return QBrush(DUPLICATE_BG)
        return None

    def _tooltip(self, path: Path) -> str:
        lines = [str(path)]
        if path in self.duplicates:
            lines.append(f"nearly repeats {self.duplicates[path]}")
        if path in self.unreadable:
            lines.append(f"unreadable: {self.unreadable[path]}")
        return "\n".join(lines)

    def path_at(self, row: int) -> Path:
        return self.rows[row]

    def refresh(self, paths: set[Path] | None = None) -> None:
        """Repaint ``paths`` (all rows when None) after their marks changed."""
        if paths is None:
            if self.rows:
                self.dataChanged.emit(self.index(0), self.index(len(self.rows) - 1))
            return
        for path in paths:
            self._changed(path)
