"""Small dialogs: engineer password, password change, trace export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import (
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

from app.gui.password import PasswordStore


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


class ChangePasswordDialog(QDialog):
    """Current password, new password twice; the store checks and saves."""

    def __init__(self, store: PasswordStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Change engineer password")
        self.current, self.new, self.repeat = QLineEdit(), QLineEdit(), QLineEdit()
        form = QFormLayout()
        for label, edit in (("Current", self.current), ("New", self.new), ("Repeat", self.repeat)):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow(label, edit)
        self.message = QLabel(
            "The default password is in docs/gui.md; set your own on site." if store.is_default else ""
        )
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._try)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def _try(self) -> None:
        if self.new.text() != self.repeat.text():
            self.message.setText("The two new passwords differ.")
            return
        try:
            self.store.change(self.current.text(), self.new.text())
        except ValueError as exc:
            self.message.setText(str(exc).capitalize() + ".")
            return
        self.accept()


class TraceExportDialog(QDialog):
    """A time range and an output file for the CSV export."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export inspection trace")
        now = QDateTime.currentDateTime()
        self.start = QDateTimeEdit(now.addDays(-1))
        self.end = QDateTimeEdit(now)
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.out = QLineEdit(str(Path.home() / "trace.csv"))
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
        path, _ = QFileDialog.getSaveFileName(self, "Export trace", self.out.text(), "CSV (*.csv)")
        if path:
            self.out.setText(path)

    def time_range(self) -> tuple[float, float]:
        """Start and end as epoch seconds."""
        return self.start.dateTime().toSecsSinceEpoch(), self.end.dateTime().toSecsSinceEpoch()
