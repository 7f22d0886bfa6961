"""The inspection trace: every verdict appended to an SQLite database, and CSV export of a time range.

Records are queued by the inspection worker (never blocking it) and written in batches, one transaction
each, by a dedicated writer thread. The database runs in WAL mode so an export or a reader (an MES
gateway, a spreadsheet) never blocks the writer. What the database cannot take is spooled and written back
later, retention keeps it bounded, and every record is written or counted as lost (:mod:`app.trace.store`).

Modules: ``schema`` (tables, :func:`connect`), ``store`` (writing, spool, retention; :class:`TraceConfig`),
``spool``, ``retention``; this one holds the writer thread, reading and export.
"""

from __future__ import annotations

import csv
import logging
import os
import queue
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.pipeline.record import InspectionRecord
from app.trace.schema import COLUMNS, SCHEMA_VERSION, TraceError, connect
from app.trace.store import TraceConfig, TraceStore

__all__ = ["COLUMNS", "SCHEMA_VERSION", "TraceConfig", "TraceError", "TraceWriter", "connect", "default_trace_path",
           "export_csv", "iso_utc", "parse_time", "read_rows"]  # fmt: skip

log = logging.getLogger(__name__)


class TraceWriter:
    """Appends :class:`InspectionRecord`\\ s to the database from its own thread.

    Args:
        path: The database file.
        config: Batching, spool and retention.
        on_error: The app-level error sink, called as ``on_error("trace", exc)`` from the writer thread.

    Raises:
        TraceError: the database cannot be opened.
    """

    label = "trace"  # how the pipeline names this output in error messages

    def __init__(
        self,
        path: str | Path,
        config: TraceConfig | None = None,
        *,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.config = config or TraceConfig()
        self._on_error = on_error
        self._queue: queue.Queue[InspectionRecord | _Barrier | None] = queue.Queue(self.config.queue_size)
        self._queue_lost = 0  # records not queued because the queue was full (counted by the inspection thread)
        self._queue_lost_seen = 0
        self._store = TraceStore(self.path, self.config, self._report)  # fail here, in the caller
        self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
        self._thread.start()

    @property
    def written(self) -> int:
        """Records committed."""
        return self._store.written

    @property
    def lost(self) -> int:
        """Records lost: the queue was full, a record could not be stored, the spool was full, or the program
        ended while the database could not be written (each kind is reported once per episode)."""
        return self._queue_lost + self._store.losses.total - self._queue_lost_seen

    @property
    def spooled(self) -> int:
        """Records waiting in the spool for the database to take them."""
        return len(self._store.spool)

    def append(self, record: InspectionRecord) -> None:
        """Queue a record (never blocks; counts it as lost if the queue is full)."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._queue_lost += 1

    submit = append  # the pipeline's output protocol

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is committed or spooled (for tests and export); True if it was."""
        done = threading.Event()
        try:
            self._queue.put(_Barrier(done), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the writer thread and close the database."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while self._turn():
                pass
        finally:
            self._store.close()

    def _turn(self) -> bool:
        """Write up to one batch and do the periodic work; False once the stop marker was seen."""
        batch, barriers, keep_going = self._collect()
        try:
            if batch:
                self._store.write(batch)
            self._note_queue_losses()
            self._store.tick(time.monotonic())
        except Exception as exc:  # noqa: BLE001 - the writer never dies; a bug here still loses nothing silently
            self._store.losses.lost(len(batch), "internal", f"unexpected error while writing ({exc!r})")
        for barrier in barriers:
            barrier.done.set()
        return keep_going

    def _note_queue_losses(self) -> None:
        new = self._queue_lost - self._queue_lost_seen
        if new:
            self._queue_lost_seen += new  # from now on counted in the store's total
            self._store.losses.lost(new, "queue", f"the writer fell behind and its queue of "
                                                  f"{self.config.queue_size:,} records was full")  # fmt: skip

    def _collect(self) -> tuple[list[InspectionRecord], list[_Barrier], bool]:
        batch: list[InspectionRecord] = []
        barriers: list[_Barrier] = []
        try:
            item = self._queue.get(timeout=self.config.flush_interval_s)
        except queue.Empty:
            return batch, barriers, True
        while True:
            if item is None:
                return batch, barriers, False
            if isinstance(item, _Barrier):
                barriers.append(item)
            else:
                batch.append(item)
            if len(batch) >= self.config.batch_size:
                return batch, barriers, True
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, barriers, True

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("trace", exc)
        else:
            log.error("%s", exc)


@dataclass
class _Barrier:
    done: threading.Event


def read_rows(path: str | Path, start: float | None = None, end: float | None = None) -> Iterator[tuple]:
    """Rows (in :data:`COLUMNS` order) with ``start <= time < end``, oldest first; None = unbounded."""
    path = Path(path)
    if not path.is_file():
        raise TraceError(path, "no such trace database")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    try:
        sql = f"SELECT {', '.join(COLUMNS)} FROM inspections WHERE time >= ? AND time < ? ORDER BY time, id"
        yield from conn.execute(
            sql, (start if start is not None else -1e18, end if end is not None else 1e18)
        )
    except sqlite3.Error as exc:
        raise TraceError(path, f"cannot read ({exc})") from exc
    finally:
        conn.close()


def export_csv(db: str | Path, out: str | Path, start: float | None = None, end: float | None = None) -> int:
    """Write the rows of a time range to a CSV file (atomically); returns the number of rows.

    The first column is ISO 8601 UTC time; ``time_unix`` keeps the exact epoch seconds.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(("time_utc", "time_unix", *COLUMNS[1:]))
            for row in read_rows(db, start, end):
                writer.writerow((iso_utc(row[0]), f"{row[0]:.6f}", *row[1:]))
                count += 1
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def iso_utc(epoch: float) -> str:
    """Epoch seconds as ``2024-05-01T08:00:00.123Z``."""
    return (
        datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def parse_time(text: str) -> float:
    """ISO 8601 date or date-time to epoch seconds; without a zone it is local time.

    Raises:
        ValueError: the text is not an ISO 8601 date or date-time.
    """
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"{text!r} is not an ISO 8601 date or date-time (e.g. 2024-05-01 or 2024-05-01T08:30)"
        raise ValueError(msg) from exc
    return value.timestamp()  # naive values are local time


def default_trace_path() -> Path:
    """The trace database of this installation: ``<data home>/trace.sqlite``."""
    from app.paths import data_home

    return data_home() / "trace.sqlite"
