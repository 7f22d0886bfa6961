"""Which frames are parts: free run, or one part per software / hardware trigger; and a trigger button."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton

from app.station.modes import AcquisitionMode

MODES = (
    (AcquisitionMode.FREE_RUN, "Free run (newest frame, skips counted)"),
    (AcquisitionMode.SOFTWARE, "Software trigger (a part per trigger)"),
    (AcquisitionMode.HARDWARE, "Hardware trigger (camera trigger input)"),
)


class PartsBox(QGroupBox):
    """The acquisition mode and a software trigger with an optional part id; emits, never acts itself."""

    modeChosen = Signal(str)  # an AcquisitionMode value
    triggerRequested = Signal(str)  # part id ("" for none)

    def __init__(self, parent=None) -> None:
        super().__init__("Parts", parent)
        form = QFormLayout(self)
        self.mode = QComboBox()
        for mode, text in MODES:
            self.mode.addItem(text, mode.value)
        self.mode.setToolTip("Triggered: every trigger gets exactly one verdict (OK, NG or NOT JUDGED), in order")
        self.part_id = QLineEdit()
        self.part_id.setPlaceholderText("part id (optional)")
        self.trigger = QPushButton("Trigger")
        self.trigger.setToolTip("Judge the part in front of the camera now (F8 in the toolbar)")
        row = QHBoxLayout()
        row.addWidget(self.part_id, 1)
        row.addWidget(self.trigger)
        self.note = QLabel("")
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        form.addRow("Mode", self.mode)
        form.addRow(row)
        form.addRow(self.note)
        self.mode.activated.connect(lambda i: self.modeChosen.emit(self.mode.itemData(i)))
        self.trigger.clicked.connect(lambda: self.triggerRequested.emit(self.part_id.text().strip()))
        self.show_mode(AcquisitionMode.FREE_RUN)

    def show_mode(self, mode: AcquisitionMode | str) -> None:
        """Show ``mode`` without emitting; the trigger button works only in software-trigger mode."""
        mode = AcquisitionMode(mode)
        self.mode.setCurrentIndex(self.mode.findData(mode.value))
        self.trigger.setEnabled(mode != AcquisitionMode.FREE_RUN)
        self.part_id.setEnabled(mode != AcquisitionMode.FREE_RUN)

    def show_trigger(self, number: int, part_id: str) -> None:
        """Say which trigger was issued last."""
        self.note.setText(f"trigger {number}" + (f" · part {part_id}" if part_id else ""))
