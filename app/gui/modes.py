"""Operator and engineer modes: the window starts in operator mode; engineer mode needs the engineer password.

There is no default password. On a station where none was ever set, the first switch to engineer mode asks the
engineer to choose one; the audit log is asked first (off the GUI thread), so a per-user password that was set
once and is now gone locks engineer mode instead of starting over. Hashing and checking run off the GUI thread.
Every switch, refusal and password change goes to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QDialog

from app.access import AccessError, AccessSettings, PasswordState, hash_password, verify_password
from app.access.password import check_new_password, needs_rehash
from app.access.policy import PER_USER, RECOVERY, format_actions
from app.audit import has_event
from app.gui.dialogs import NewPasswordDialog, OperatorActionsDialog, PasswordDialog
from app.gui.tasks import run_task

Runner = Callable[[Callable[[], object], Callable[[object], None], Callable[[BaseException], None]], None]


class ModeSwitch:
    """Holds the mode, asks for passwords and says what the current mode allows.

    Args:
        window: The main window (``apply_mode``, ``status``, ``audit``).
        access: The station's access rules.
        audit_db: The database holding the audit log (asked whether a per-user password was ever set).
        run: Runs slow work off the GUI thread (default :func:`app.gui.tasks.run_task`).
    """

    def __init__(self, window, access: AccessSettings, *, audit_db: Path, run: Runner = run_task) -> None:
        self.window = window
        self.access = access
        self.audit_db = Path(audit_db)
        self.operator = True
        self.dialog: QDialog | None = None  # the dialog asking right now (tests fill it in)
        self._run = run

    @property
    def role(self) -> str:
        return "operator" if self.operator else "engineer"

    def allows(self, action: str) -> bool:
        """Whether ``action`` may be used now: anything in engineer mode, the policy's operator actions else."""
        return not self.operator or action in self.access.operator_actions()

    def start(self) -> None:
        """The window opens in operator mode (recorded); a machine-wide file that cannot be read is reported."""
        self.set_operator(True)
        self.window.audit.note("mode", "operator", detail="start")
        if self.access.machine.problem:
            self.window.errors("access settings", f"{self.access.machine.problem}: engineer mode is locked")

    def set_operator(self, on: bool) -> None:
        """Show the window in operator (True) or engineer mode; callers check the password first."""
        self.operator = bool(on)
        self.window.apply_mode(self.operator)

    def enter_operator(self) -> None:
        """Back to operator mode (never needs a password)."""
        if not self.operator:
            self.window.audit.settle()
            self.window.audit.note("mode", "operator", previous="engineer")
        self.set_operator(True)

    # --- engineer mode -----------------------------------------------------------------------------

    def request_engineer(self) -> None:
        """Ask for the password; or, where none was ever set, for the first one; or say why it is locked."""
        status = self.access.password_status()
        if status.state is PasswordState.LOCKED:
            self._refuse(status.reason)
        elif status.state is PasswordState.SET:
            self._ask(PasswordDialog(self.window), lambda d: self.enter_engineer(d.password.text()))
        else:
            db = self.audit_db
            self._run(lambda: has_event(db, "password", PER_USER), self._first_or_locked,
                      lambda exc: self._refuse(f"the audit log cannot say whether a password was set ({exc}); {RECOVERY}"))  # fmt: skip

    def _first_or_locked(self, was_set: object) -> None:
        if was_set:
            self._refuse(f"an engineer password was set on this station (audit log) but is gone from the {PER_USER}; "
                         f"{RECOVERY}")  # fmt: skip
            return
        self._ask(NewPasswordDialog(first=True, parent=self.window), lambda d: self.set_first_password(d.new.text()))

    def enter_engineer(self, password: str) -> None:
        """Check ``password`` off the GUI thread; engineer mode follows a correct one."""
        status = self.access.password_status()
        if status.state is PasswordState.UNSET:
            self._refuse("no engineer password is set yet: Engineer mode… sets the first one", prefix="")
            return
        if status.state is PasswordState.LOCKED:
            self._refuse(status.reason)
            return
        stored, upgrade = status.stored, needs_rehash(status.stored) and not status.machine_wide

        def check() -> tuple[bool, str]:
            ok = verify_password(password, stored)
            return ok, hash_password(password) if ok and upgrade else ""

        self._run(check, lambda result: self._checked(*result), self._failed)

    def _checked(self, ok: bool, rehashed: str) -> None:
        if not ok:
            self.window.status.flash("wrong engineer password: still in operator mode", error=True)
            self.window.audit.note("mode", "engineer refused", detail="wrong password")
            return
        if rehashed:
            self.access.store_password(rehashed)  # a hash of an earlier version, now PBKDF2
        self._become_engineer()

    def set_first_password(self, password: str) -> None:
        """Set the station's first engineer password (off the GUI thread) and enter engineer mode."""
        try:
            check_new_password(password)
        except AccessError as exc:
            self.window.status.flash(str(exc), error=True)
            return
        self._run(lambda: hash_password(password), self._first_hashed, self._failed)

    def _first_hashed(self, hashed: object) -> None:
        if self.access.password_status().state is not PasswordState.UNSET:  # set meanwhile (another window)
            self.request_engineer()
            return
        if self._store(str(hashed), "set"):
            self._become_engineer()

    def _become_engineer(self) -> None:
        self.window.audit.note("mode", "engineer", previous="operator")
        self.set_operator(False)
        self.window.status.flash("engineer mode")

    # --- password and policy changes (engineer mode) ------------------------------------------------

    def change_password(self) -> NewPasswordDialog | None:
        """Ask for the current and a new password; the change is checked and stored off the GUI thread."""
        status = self.access.password_status()
        if status.machine_wide or status.state is not PasswordState.SET:
            self._refuse(status.reason or f"the engineer password is set machine-wide in {status.source}; {RECOVERY}",
                         action="password")  # fmt: skip
            return None
        dialog = NewPasswordDialog(first=False, parent=self.window)
        self._ask(dialog, lambda d: self._change(status.stored, d.current.text(), d.new.text()))
        return dialog

    def _change(self, stored: str, current: str, new: str) -> None:
        def check() -> str:
            return hash_password(new) if verify_password(current, stored) else ""

        self._run(check, self._changed, self._failed)

    def _changed(self, hashed: object) -> None:
        if not hashed:
            self._refuse("the current password is wrong", action="password")
            return
        if self._store(str(hashed), "changed"):
            self.window.status.flash("engineer password changed")

    def edit_operator_actions(self) -> OperatorActionsDialog:
        """Choose which actions operators may use (read-only when the machine-wide file decides)."""
        before = self.access.operator_actions()
        locked = str(self.access.machine.path) if self.access.actions_locked else ""
        dialog = OperatorActionsDialog(before, locked_by=locked, parent=self.window)
        self._ask(dialog, lambda d: None if locked else self._set_actions(before, d.chosen()))
        return dialog

    def _set_actions(self, before: frozenset[str], chosen: frozenset[str]) -> None:
        self.access.set_operator_actions(chosen)
        self.window.audit.note("operator_actions", format_actions(chosen), previous=format_actions(before))
        self.window.status.flash(f"operator actions: {format_actions(chosen).replace(',', ', ')}")

    # --- helpers -----------------------------------------------------------------------------------

    def _ask(self, dialog: QDialog, on_accepted: Callable[[QDialog], None]) -> None:
        dialog.accepted.connect(lambda: on_accepted(dialog))
        dialog.open()  # non-blocking: the live view keeps running
        self.dialog = dialog

    def _store(self, hashed: str, what: str) -> bool:
        try:
            self.access.store_password(hashed)
        except AccessError as exc:
            self._refuse(str(exc), action="password")
            return False
        self.window.audit.note("password", what, detail=PER_USER)
        return True

    def _refuse(self, reason: str, action: str = "mode", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = "engineer mode is locked: " if action == "mode" else "engineer password: "
        self.window.status.flash(prefix + reason, error=True)
        self.window.audit.note(action, "engineer refused" if action == "mode" else "refused", detail=reason)

    def _failed(self, exc: BaseException) -> None:
        self.window.errors("engineer password", exc)
