"""Every GenICam feature of the camera: a searchable tree with Beginner/Expert/Guru levels, editable values.

The tree comes as a Qt-free :class:`~app.camera.features.FeatureTree` (read in the acquisition process);
edits go back through ``source.set_feature`` off the GUI thread, and the cell shows what the camera
applied, or reverts with the camera's reason. The camera's settings can be saved to and loaded from a
JSON file (``source.save_settings`` / ``load_settings``, off the GUI thread); features the camera refuses
on loading go to the error sink by name. The panel sits in a dock that operator mode hides.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.camera.features import VALUE_KINDS, FeatureInfo, FeatureTree
from app.gui.error_sink import ErrorSink
from app.gui.tasks import run_task

LEVELS = ("Beginner", "Expert", "Guru")
NAME_ROLE = Qt.ItemDataRole.UserRole  # feature name stored on each item
READ_ONLY_COLOR = "#6b737c"  # values that cannot be written now
SETTINGS_FILTER = "Camera settings (*.json)"  # file dialogs' filter for settings files


class FeatureTreePanel(QWidget):
    """Search box, visibility level and the tree."""

    def __init__(self, *, errors: ErrorSink, parent=None) -> None:
        super().__init__(parent)
        self.errors = errors
        self.source = None
        self.tree_data: FeatureTree | None = None
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search features …")
        self.search.setClearButtonEnabled(True)
        self.level = QComboBox()
        self.level.addItems(LEVELS)
        self.reload = QPushButton("Reload")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Feature", "Value", "Unit"])
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 200)
        self.tree.setColumnWidth(1, 120)
        self.tree.setEditTriggers(QTreeWidget.EditTrigger.NoEditTriggers)  # values only, via double-click
        self.note = QLabel("not connected")
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        self.save_button = QPushButton("Save settings…")
        self.save_button.setToolTip("Save the camera's writable features to a JSON file")
        self.load_button = QPushButton("Load settings…")
        self.load_button.setToolTip("Apply a camera settings file; features the camera refuses are listed")
        self.folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.level)
        top.addWidget(self.reload)
        files = QHBoxLayout()
        files.addWidget(self.save_button)
        files.addWidget(self.load_button)
        files.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(files)
        layout.addWidget(self.note)
        self.search.textChanged.connect(self._rebuild)
        self.level.currentTextChanged.connect(self._rebuild)
        self.reload.clicked.connect(lambda: self.load())
        self.save_button.clicked.connect(self.save_settings)
        self.load_button.clicked.connect(self.load_settings)
        self.tree.itemChanged.connect(self._edited)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    def set_source(self, source) -> None:
        """The connected source; the tree empties until :meth:`set_tree` or :meth:`load`."""
        self.source = source
        self.tree_data = None
        self.tree.clear()
        has_features = source is not None and callable(getattr(source, "feature_tree", None))
        self.reload.setEnabled(has_features)
        self._enable_files(True)
        self.note.setText("not connected" if source is None else "" if has_features else "no camera features")

    def load(self, then: Callable[[], None] | None = None) -> None:
        """Read the tree again from the camera (in the background); ``then()`` runs once it is shown."""
        source = self.source
        if source is None or not callable(getattr(source, "feature_tree", None)):
            return
        self.note.setText("reading …")
        run_task(source.feature_tree, lambda tree: self._tree_read(source, tree, then),
                 lambda exc: self._failed("reading features", exc))  # fmt: skip

    def _tree_read(self, source, tree: FeatureTree, then: Callable[[], None] | None) -> None:
        if source is self.source:
            self.set_tree(tree)
            if then is not None:
                then()

    def set_tree(self, tree: FeatureTree) -> None:
        self.tree_data = tree
        self._rebuild()

    def _rebuild(self, *_) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        data = self.tree_data
        if data is not None:
            text, level = self.search.text().strip(), self.level.currentText()
            if text:
                for info in data.search(text, level):
                    self.tree.addTopLevelItem(_item(info))
            else:
                self._add_walk(data, level)
            count = sum(1 for _, f in data.walk(level) if f.kind != "category")
            self.note.setText(f"{count} features at level {level}; double-click a value to edit")
        self.tree.blockSignals(False)

    def _add_walk(self, data: FeatureTree, level: str) -> None:
        parents: list[QTreeWidgetItem | None] = [None]
        for depth, info in data.walk(level):
            if depth == 0:
                continue  # the root category itself
            item = _item(info)
            del parents[depth:]
            parent = parents[-1]
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            parents.append(item)
            if info.kind == "category" and depth <= 1:
                item.setExpanded(True)

    # --- settings files ----------------------------------------------------------------------------

    def save_settings(self) -> None:
        """Ask for a file, then save the camera's settings to it in the background."""
        source = self.source
        if not _has_settings_files(source):
            return
        serial = getattr(source, "info", {}).get("serial", "")
        suggestion = str(Path(self.folder or ".") / f"camera-{serial or 'settings'}.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save camera settings", suggestion, SETTINGS_FILTER)
        if not path:
            return
        path = path if path.lower().endswith(".json") else f"{path}.json"
        self._start_file_task(f"saving camera settings to {Path(path).name} …", path)
        run_task(
            lambda: source.save_settings(path),
            lambda saved: self._file_done(f"saved {Path(saved).name}"),
            lambda exc: self._file_failed("saving camera settings", exc),
        )

    def load_settings(self) -> None:
        """Ask for a settings file, then apply it to the camera in the background and show the result."""
        source = self.source
        if not _has_settings_files(source):
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load camera settings", self.folder, SETTINGS_FILTER)
        if not path:
            return
        self._start_file_task(f"loading camera settings from {Path(path).name} …", path)
        run_task(
            lambda: source.load_settings(path),
            lambda refused: self._loaded(source, path, refused),
            lambda exc: self._file_failed("loading camera settings", exc),
        )

    def _loaded(self, source, path: str, refused: list[tuple[str, str]]) -> None:
        message = f"loaded {Path(path).name}"
        if refused:
            listed = "; ".join(f"{name}: {reason}" for name, reason in refused)
            count = f"{Path(path).name}: the camera refused {len(refused)} feature(s)"
            self.errors("camera settings", f"{count}: {listed}")
            message += f"; the camera refused {', '.join(name for name, _ in refused)}"
        self._enable_files(True)
        if source is self.source:  # show the values the camera has now, then what happened
            self.load(then=lambda: self.note.setText(message))

    def _start_file_task(self, message: str, path: str) -> None:
        self.folder = str(Path(path).parent)
        self._enable_files(False)
        self.note.setText(message)

    def _file_done(self, message: str) -> None:
        self._enable_files(True)
        self.note.setText(message)

    def _file_failed(self, what: str, exc: BaseException) -> None:
        self._enable_files(True)
        self.note.setText(f"{what} failed: {getattr(exc, 'reason', exc)}")
        self.errors("camera settings", exc)

    def _enable_files(self, on: bool) -> None:
        has = _has_settings_files(self.source)
        self.save_button.setEnabled(on and has)
        self.load_button.setEnabled(on and has)

    def _double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        info = self._info(item)
        if info is None:
            return
        if info.kind == "command" and info.access != "NI":
            self._write(item, info, None)
        elif info.kind in VALUE_KINDS and info.writable:
            self.tree.editItem(item, 1)

    def _edited(self, item: QTreeWidgetItem, column: int) -> None:
        info = self._info(item)
        if column == 1 and info is not None and info.kind in VALUE_KINDS:
            self._write(item, info, item.text(1))

    def _write(self, item: QTreeWidgetItem, info: FeatureInfo, value) -> None:
        source = self.source
        if source is None:
            return
        run_task(lambda: source.set_feature(info.name, value), lambda applied: self._applied(item, info, applied),
                 lambda exc: self._refused(item, info, exc))  # fmt: skip

    def _applied(self, item: QTreeWidgetItem, info: FeatureInfo, applied) -> None:
        if info.kind != "command":
            self._set_text(item, _text(applied))
        self.note.setText(
            f"{info.name} = {_text(applied)}" if info.kind != "command" else f"{info.name} executed"
        )

    def _refused(self, item: QTreeWidgetItem, info: FeatureInfo, exc: BaseException) -> None:
        self._set_text(item, _text(info.value))
        self._failed(info.name, exc)

    def _set_text(self, item: QTreeWidgetItem, text: str) -> None:
        self.tree.blockSignals(True)
        item.setText(1, text)
        self.tree.blockSignals(False)

    def _info(self, item: QTreeWidgetItem) -> FeatureInfo | None:
        name = item.data(0, NAME_ROLE)
        return self.tree_data.features.get(name) if self.tree_data and name else None

    def _failed(self, what: str, exc: BaseException) -> None:
        self.note.setText(f"{what}: {getattr(exc, 'reason', exc)}")
        self.errors("camera", exc)


def _has_settings_files(source) -> bool:
    return source is not None and callable(getattr(source, "save_settings", None))


def _item(info: FeatureInfo) -> QTreeWidgetItem:
    value = "▶ execute" if info.kind == "command" else "" if info.kind == "category" else _text(info.value)
    item = QTreeWidgetItem([info.display_name or info.name, value, info.unit])
    item.setData(0, NAME_ROLE, info.name)
    tip = f"{info.name} · {info.kind} · {info.access} · {info.visibility}"
    if info.entries:
        tip += f"\nvalues: {', '.join(info.entries)}"
    if info.minimum is not None or info.maximum is not None:
        tip += f"\nrange: {info.minimum} … {info.maximum}"
    if info.description:
        tip += f"\n{info.description}"
    item.setToolTip(0, tip)
    item.setToolTip(1, tip)
    if info.kind in VALUE_KINDS and info.writable:
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
    elif info.kind != "category":
        item.setForeground(1, QColor(READ_ONLY_COLOR))
    return item


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
