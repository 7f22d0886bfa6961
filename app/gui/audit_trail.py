"""The window's side of the audit log: events stamped with the current role, values that change many times a
second while dragged (the threshold) recorded once when they settle, and File ▸ Export audit log…."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from app.audit import AuditLog, export_csv
from app.gui.tasks import run_task

SETTLE_MS = 1500  # a dragged value is recorded once it has not changed for this long


class AuditTrail(QObject):
    """Records the window's changes in an :class:`~app.audit.AuditLog` (which writes on its own thread).

    Args:
        log: The audit log.
        role: Returns the current role ("operator" or "engineer").
    """

    def __init__(self, log: AuditLog, role: Callable[[], str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log = log
        self._role = role
        self._settling: dict[str, tuple[str, str, str]] = {}  # action -> (value, value before the drag, detail)
        self._timer = QTimer(self, singleShot=True, interval=SETTLE_MS, timeout=self.settle)

    def note(self, action: str, value: object, *, previous: object = "", detail: object = "") -> None:
        """Record one change now (never waits on the disk)."""
        self.log.record(action, value, previous=previous, detail=detail, role=self._role())

    def note_settled(self, action: str, value: object, *, previous: object = "", detail: object = "") -> None:
        """Record a change once the value has settled, with the value from before the first change."""
        held = self._settling.get(action)
        self._settling[action] = (str(value), held[1] if held else str(previous), str(detail))
        self._timer.start()

    def settle(self) -> None:
        """Record the held changes now (the timer, a mode switch, closing)."""
        self._timer.stop()
        held, self._settling = self._settling, {}
        for action, (value, previous, detail) in held.items():
            if value != previous:
                self.note(action, value, previous=previous, detail=detail)

    def export(self, out: Path, start: float | None, end: float | None, on_done: Callable[[object], None],
               on_failed: Callable[[BaseException], None]) -> None:  # fmt: skip
        """Write the events of a time range to ``out`` as CSV off the GUI thread (what is queued is written first)."""
        self.settle()
        log = self.log

        def job() -> int:
            log.flush()
            return export_csv(log.path, out, start, end)

        run_task(job, on_done, on_failed)

    def close(self) -> None:
        self.settle()
        self.log.close()


def described(settings: object) -> str:
    """A settings dataclass as ``name=value`` pairs, for an event's value."""
    return " ".join(f"{k}={v}" for k, v in vars(settings).items())


def export_audit(window) -> None:
    """File ▸ Export audit log…: a time range and a file, then the export in the background."""
    from app.gui.dialogs import TraceExportDialog

    dialog = TraceExportDialog(window, title="Export audit log", file_name="audit.csv")
    if dialog.exec() != TraceExportDialog.DialogCode.Accepted:
        return
    start, end = dialog.time_range()
    out = Path(dialog.out.text())
    window.audit.export(out, start, end, lambda n: window.status.flash(f"exported {n} audit events to {out}"),
                        lambda exc: window.errors("audit export", exc))  # fmt: skip
