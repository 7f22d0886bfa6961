"""The cameras of the station: 1 to 4 sources, each with its model (Source ▸ Station cameras…, engineer mode).

The dialog only edits a list; the window connects the sources and loads the models when it is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.station.setup import MAX_CAMERAS

NONE = ""  # a row left empty: no camera there


class StationDialog(QDialog):
    """Sources and models of the station's cameras.

    Args:
        known: ``(label, spec)`` of the sources the Source panel lists (the simulator's and real cameras …).
        specs: The station's sources now, in order.
        models: Each camera's own model file ("" = the station's model, camera 1's).
        parent: The window.
    """

    def __init__(self, known: Sequence[tuple[str, str]], specs: Sequence[str], models: Sequence[str],
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle("Station cameras")
        note = QLabel("Up to four cameras look at each part. In a triggered mode one trigger takes a frame from "
                      "every camera and the part is NG when any camera says NG (NOT JUDGED when any could not "
                      "judge it). A camera without a model of its own runs camera 1's model.")  # fmt: skip
        note.setWordWrap(True)
        grid = QGridLayout()
        for col, title in enumerate(("", "Source", "Model (empty: camera 1's)")):
            grid.addWidget(QLabel(title), 0, col)
        self.sources: list[QComboBox] = []
        self.models: list[QLineEdit] = []
        for row in range(MAX_CAMERAS):
            source, model = self._row(grid, row, known)
            spec = specs[row] if row < len(specs) else NONE
            index = source.findData(spec)
            source.setCurrentIndex(index) if index >= 0 else source.setEditText(spec)
            model.setText(models[row] if row < len(models) else "")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff8a8a;")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(grid)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(720, self.sizeHint().height())

    def _row(self, grid: QGridLayout, row: int, known: Sequence[tuple[str, str]]) -> tuple[QComboBox, QLineEdit]:
        source = QComboBox()
        source.setEditable(True)
        source.addItem("(none)" if row else "(choose a source)", NONE)
        for label, spec in known:
            source.addItem(f"{label}  [{spec}]", spec)
        model = QLineEdit()
        browse = QPushButton("…")
        browse.setToolTip("Choose the model file of this camera")
        browse.clicked.connect(lambda: self._browse(model))
        grid.addWidget(QLabel(f"Camera {row + 1}"), row + 1, 0)
        grid.addWidget(source, row + 1, 1)
        grid.addWidget(model, row + 1, 2)
        grid.addWidget(browse, row + 1, 3)
        self.sources.append(source)
        self.models.append(model)
        return source, model

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model of this camera", edit.text(), "draem-inspect models (*.safetensors)")
        if path:
            edit.setText(path)

    def chosen(self) -> list[tuple[str, str]]:
        """``(spec, model)`` of every row with a source, in order."""
        out = []
        for source, model in zip(self.sources, self.models, strict=True):
            data = source.currentData()
            text = source.currentText().strip()
            spec = data if isinstance(data, str) and source.itemText(source.currentIndex()) == text else text
            if spec and spec not in ("(none)", "(choose a source)"):
                out.append((spec, model.text().strip()))
        return out

    def _check(self) -> None:
        """Accept only a usable list: at least one source, no source twice, model files that exist."""
        chosen = self.chosen()
        specs = [s for s, _ in chosen]
        missing = [m for _, m in chosen if m and not Path(m).is_file()]
        if not chosen:
            self.error.setText("Choose at least one source.")
        elif len(set(specs)) < len(specs):
            self.error.setText("A source can be used by one camera only.")
        elif missing:
            self.error.setText(f"{missing[0]}: no such model file.")
        else:
            self.accept()
