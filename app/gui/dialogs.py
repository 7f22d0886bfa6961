"""Small dialogs: engineer password, a new password, operator actions, trace and audit export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.access.password import MIN_LENGTH, AccessError, check_new_password
from app.access.policy import OPERATOR_ACTIONS


class PasswordDialog(QDialog):
    """Asks for the engineer password; the caller checks it when the dialog is accepted."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Engineer mode")
        self.setModal(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("engineer password")
        self.message = QLabel("Engineering controls are protected. Enter the engineer password.")
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.password)
        layout.addWidget(buttons)
        self.resize(360, self.sizeHint().height())


class NewPasswordDialog(QDialog):
    """A new engineer password twice (and the current one when changing it); checks they match and are long
    enough, then accepts. The caller hashes and stores it (off the GUI thread)."""

    def __init__(self, *, first: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set the engineer password" if first else "Change engineer password")
        self.setModal(True)
        self.current, self.new, self.repeat = QLineEdit(), QLineEdit(), QLineEdit()
        form = QFormLayout()
        rows = (("New", self.new), ("Repeat", self.repeat)) if first else \
            (("Current", self.current), ("New", self.new), ("Repeat", self.repeat))  # fmt: skip
        for label, edit in rows:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow(label, edit)
        self.message = QLabel(
            "No engineer password is set on this station. Choose one now: it protects the engineering "
            f"controls from here on (at least {MIN_LENGTH} characters)." if first else ""
        )
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._try)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _try(self) -> None:
        if self.new.text() != self.repeat.text():
            self.message.setText("The two new passwords differ.")
            return
        try:
            check_new_password(self.new.text())
        except AccessError as exc:
            self.message.setText(str(exc).capitalize() + ".")
            return
        self.accept()


class OperatorActionsDialog(QDialog):
    """Which actions an operator may use; read-only (with the reason) when the machine-wide file decides."""

    def __init__(self, allowed: frozenset[str], *, locked_by: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Operator actions")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("In operator mode, allow:"))
        self.boxes = {name: QCheckBox(text) for name, text in OPERATOR_ACTIONS.items()}
        for name, box in self.boxes.items():
            box.setChecked(name in allowed)
            box.setEnabled(not locked_by)
            layout.addWidget(box)
        if locked_by:
            note = QLabel(f"Set machine-wide in {locked_by}: IT changes them there.")
            note.setWordWrap(True)
            layout.addWidget(note)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> frozenset[str]:
        return frozenset(name for name, box in self.boxes.items() if box.isChecked())


class TraceExportDialog(QDialog):
    """A time range and an output file for a CSV export (the trace, or the audit log)."""

    def __init__(self, parent: QWidget | None = None, *, title: str = "Export inspection trace",
                 file_name: str = "trace.csv") -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(title)
        now = QDateTime.currentDateTime()
        self.start = QDateTimeEdit(now.addDays(-1))
        self.end = QDateTimeEdit(now)
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.out = QLineEdit(str(Path.home() / file_name))
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("From", self.start)
        form.addRow("To", self.end)
        form.addRow("CSV file", row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons, alignment=Qt.AlignmentFlag.AlignRight)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.windowTitle(), self.out.text(), "CSV (*.csv)")
        if path:
            self.out.setText(path)

    def time_range(self) -> tuple[float, float]:
        """Start and end as epoch seconds."""
        return self.start.dateTime().toSecsSinceEpoch(), self.end.dateTime().toSecsSinceEpoch()
