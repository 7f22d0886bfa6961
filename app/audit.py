"""The audit log: who changed what and when (threshold, model, recipe, mode, outputs, acquisition mode, password),
in its own table ``audit`` of the trace database, and CSV export of a time range.

:class:`AuditLog` keeps its own connection (the database runs in WAL mode, so it and the trace writer share the
file) and writes from its own thread: the caller never waits on the disk. An event that cannot be written is kept
and written again with the next one (the error goes to the error sink once per failure streak); beyond
:data:`MAX_PENDING` the oldest are dropped and counted, never silently.
"""

from __future__ import annotations

import csv
import getpass
import io
import logging
import queue
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import astuple, dataclass
from pathlib import Path

from draem_core.errors import DraemError, one_line, shown

log = logging.getLogger(__name__)

COLUMNS = ("time", "user", "host", "role", "action", "value", "previous", "detail")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,               -- Unix epoch seconds (UTC)
    user TEXT NOT NULL,               -- operating-system account that ran the program
    host TEXT NOT NULL,               -- computer name
    role TEXT NOT NULL,               -- operator, engineer or cli
    action TEXT NOT NULL,             -- threshold, model, recipe, mode, outputs, acquisition, password, ...
    value TEXT NOT NULL,              -- the new value
    previous TEXT NOT NULL DEFAULT '',  -- the value before ('' when not known)
    detail TEXT NOT NULL DEFAULT ''     -- the file, the camera, the reason
);
CREATE INDEX IF NOT EXISTS audit_time ON audit (time);
"""
_INSERT = f"INSERT INTO audit ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
MAX_PENDING = 10_000  # events held while the database cannot be written
RETRY_S = 5.0  # how often held events are tried again
BURST = 256  # most events gathered into one transaction


class AuditError(DraemError):
    """The audit log cannot be read, written or exported (names the database and the reason)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"audit log {shown(path)}: {reason}")


@dataclass(frozen=True)
class AuditEvent:
    """One change, as stored."""

    time: float  # Unix epoch seconds
    user: str  # operating-system account
    host: str  # computer name
    role: str  # operator, engineer or cli
    action: str  # what kind of setting changed
    value: str  # its new value
    previous: str = ""  # its value before
    detail: str = ""  # the file, the camera, the reason


def current_user() -> str:
    """The operating-system account running this program ("unknown" when the system cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


class AuditLog:
    """Appends :class:`AuditEvent`\\ s to ``<trace database>``'s ``audit`` table from its own thread.

    Args:
        path: The trace database file (created if needed).
        on_error: The app-level error sink, called as ``on_error("audit log", exc)`` from the writer thread.
    """

    def __init__(self, path: str | Path, *, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self.path = Path(path)
        self._on_error = on_error
        self._user, self._host = current_user(), socket.gethostname()
        self._queue: queue.Queue[AuditEvent | threading.Event | None] = queue.Queue()
        self._pending: list[AuditEvent] = []
        self.written = 0  # events committed
        self.dropped = 0  # events given up after MAX_PENDING were held (reported)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, action: str, value: object, *, previous: object = "", detail: object = "", role: str) -> None:
        """Queue one event, stamped with the time, the account and the computer (never blocks)."""
        event = AuditEvent(time.time(), self._user, self._host, role, action, str(value), str(previous), str(detail))
        self._queue.put(event)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far was tried (for tests and export); True when all is written."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout) and not self._pending

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the writer thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        failing = False
        while True:
            try:
                item = self._queue.get(timeout=RETRY_S)
            except queue.Empty:
                item = threading.Event() if self._pending else None
                if item is None:
                    continue
            if isinstance(item, AuditEvent):
                self._hold(item)
                if not self._queue.empty() and len(self._pending) < BURST:
                    continue  # write a burst in one transaction
            conn, failing = self._write(conn, failing)
            if item is None:
                break
            if isinstance(item, threading.Event):
                item.set()
        if conn is not None:
            conn.close()

    def _hold(self, event: AuditEvent) -> None:
        self._pending.append(event)
        if len(self._pending) > MAX_PENDING:
            self._pending.pop(0)
            self.dropped += 1
            self._report(AuditError(self.path, f"{self.dropped} events dropped: the database could not be written"))

    def _write(self, conn: sqlite3.Connection | None, failing: bool) -> tuple[sqlite3.Connection | None, bool]:
        """Write every held event in one transaction; returns the connection and whether writing fails."""
        if not self._pending:
            return conn, failing
        try:
            conn = conn or connect(self.path)
            with conn:
                conn.executemany(_INSERT, [astuple(e) for e in self._pending])
        except (sqlite3.Error, OSError, AuditError) as exc:
            if not failing:
                reason = exc.reason if isinstance(exc, AuditError) else f"cannot write ({one_line(exc)})"
                self._report(AuditError(self.path, f"{reason}; {len(self._pending)} event(s) kept, trying again"))
            return conn, True
        self.written += len(self._pending)
        self._pending.clear()
        return conn, False

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("audit log", exc)
        else:
            log.error("%s", exc)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database with the ``audit`` table in place, in WAL mode.

    Raises:
        AuditError: the file cannot be opened or the table created.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
    except (sqlite3.Error, OSError) as exc:
        raise AuditError(path, f"cannot open ({one_line(exc)})") from exc
    return conn


def read_events(path: str | Path, start: float | None = None, end: float | None = None,
                action: str | None = None) -> Iterator[AuditEvent]:  # fmt: skip
    """Events with ``start <= time < end`` (None = unbounded), oldest first; only ``action`` when given.
    A database without an audit table has no events.

    Raises:
        AuditError: no such database, or it cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        raise AuditError(path, "no such database")
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit WHERE time >= ? AND time < ?" + (" AND action = ?" if action else "")
    args = (start if start is not None else -1e18, end if end is not None else 1e18, *((action,) if action else ()))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise AuditError(path, f"cannot open ({one_line(exc)})") from exc
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit'").fetchone():
            yield from (AuditEvent(*row) for row in conn.execute(sql + " ORDER BY time, id", args))
    except sqlite3.Error as exc:
        raise AuditError(path, f"cannot read ({one_line(exc)})") from exc
    finally:
        conn.close()


def has_event(path: str | Path, action: str, detail: str) -> bool:
    """Whether the log holds an ``action`` event with this ``detail`` (False when there is no database yet)."""
    if not Path(path).is_file():
        return False
    return any(e.detail == detail for e in read_events(path, action=action))


def export_csv(db: str | Path, out: str | Path, start: float | None = None, end: float | None = None) -> int:
    """Write the events of a time range to a CSV file (atomically); returns their number.

    The first column is ISO 8601 UTC time; ``time_unix`` keeps the exact epoch seconds.
    """
    from app.trace import iso_utc
    from draem_core.imageio import write_bytes_atomic

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(("time_utc", "time_unix", *COLUMNS[1:]))
    count = 0
    for event in read_events(db, start, end):
        row = astuple(event)
        writer.writerow((iso_utc(event.time), f"{event.time:.6f}", *row[1:]))
        count += 1
    try:
        write_bytes_atomic(out, text.getvalue().encode("utf-8"))
    except OSError as exc:
        raise AuditError(db, f"cannot write {shown(out)} ({one_line(exc)})") from exc
    return count
