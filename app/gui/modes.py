"""Operator and engineer modes: operator mode hides engineering controls; leaving it needs the password."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from app.gui.dialogs import ChangePasswordDialog, PasswordDialog
from app.gui.password import PasswordStore


class ModeSwitch:
    """Holds the mode and asks for the password; the window shows/hides its controls in ``apply_mode``."""

    def __init__(self, window, store: QSettings) -> None:
        self.window = window
        self.passwords = PasswordStore(store)
        self.operator = False
        self.dialog: PasswordDialog | None = None

    def set_operator(self, on: bool) -> None:
        """Enter (True) or leave operator mode without asking (leaving is only offered after the password)."""
        self.operator = bool(on)
        self.window.apply_mode(self.operator)

    def request_engineer(self) -> PasswordDialog:
        """Ask for the password (non-blocking dialog); engineer mode follows a correct one."""
        dialog = PasswordDialog(self.window)
        dialog.accepted.connect(lambda: self.enter_engineer(dialog.password.text()))
        dialog.open()
        self.dialog = dialog
        return dialog

    def enter_engineer(self, password: str) -> bool:
        """Leave operator mode if ``password`` is right; says so in the status bar either way."""
        if not self.passwords.verify(password):
            self.window.status.flash("wrong engineer password: still in operator mode", error=True)
            return False
        self.set_operator(False)
        self.window.status.flash("engineer mode")
        return True

    def change_password(self) -> ChangePasswordDialog:
        dialog = ChangePasswordDialog(self.passwords, self.window)
        dialog.accepted.connect(lambda: self.window.status.flash("engineer password changed"))
        dialog.open()
        return dialog
