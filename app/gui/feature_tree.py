"""Every GenICam feature of the camera: a searchable tree with Beginner/Expert/Guru levels, editable values.

The tree comes as a Qt-free :class:`~app.camera.features.FeatureTree` (read in the acquisition process);
edits go back through ``source.set_feature`` off the GUI thread, and the cell shows what the camera
applied, or reverts with the camera's reason.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
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
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.level)
        top.addWidget(self.reload)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.note)
        self.search.textChanged.connect(self._rebuild)
        self.level.currentTextChanged.connect(self._rebuild)
        self.reload.clicked.connect(self.load)
        self.tree.itemChanged.connect(self._edited)
        self.tree.itemDoubleClicked.connect(self._double_clicked)

    def set_source(self, source) -> None:
        """The connected source; the tree empties until :meth:`set_tree` or :meth:`load`."""
        self.source = source
        self.tree_data = None
        self.tree.clear()
        has_features = source is not None and callable(getattr(source, "feature_tree", None))
        self.reload.setEnabled(has_features)
        self.note.setText("not connected" if source is None else "" if has_features else "no camera features")

    def load(self) -> None:
        """Read the tree again from the camera (in the background)."""
        source = self.source
        if source is None or not callable(getattr(source, "feature_tree", None)):
            return
        self.note.setText("reading …")
        run_task(source.feature_tree, lambda tree: self.set_tree(tree) if source is self.source else None,
                 lambda exc: self._failed("reading features", exc))  # fmt: skip

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
