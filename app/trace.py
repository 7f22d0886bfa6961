"""The inspection trace: every verdict appended to an SQLite database, and CSV export of a time range.

Records are queued by the inspection worker (never blocking it) and written in batches, one transaction
each, by a dedicated writer thread. The database runs in WAL mode so an export or a reader (an MES
gateway, a spreadsheet) never blocks the writer.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import queue
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.pipeline.record import InspectionRecord
from draem_core.errors import DraemError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
COLUMNS = (
    "time", "frame_id", "camera", "model_name", "model_version",
    "score", "normalized", "threshold", "verdict", "roi", "latency_ms",
    "reason", "trigger", "part_id", "recipe", "software_version", "image_source",
)  # fmt: skip
_TABLE = """
CREATE TABLE IF NOT EXISTS {name} (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,          -- Unix epoch seconds (UTC)
    frame_id INTEGER NOT NULL,   -- 0 when a trigger got no frame
    camera TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    score REAL,                  -- raw image score; NULL when the part was not judged
    normalized REAL,             -- calibrated score, threshold at 0.5; NULL when not judged
    threshold REAL NOT NULL,     -- raw threshold used for the verdict
    verdict TEXT NOT NULL,       -- OK, NG or NOT_JUDGED
    roi TEXT,                    -- JSON [x, y, w, h] or NULL for the whole frame
    latency_ms REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT '',            -- why NOT_JUDGED
    trigger INTEGER NOT NULL DEFAULT 0,         -- trigger number (0: free run)
    part_id TEXT NOT NULL DEFAULT '',           -- part id given with the trigger
    recipe TEXT NOT NULL DEFAULT '',            -- recipe in force
    software_version TEXT NOT NULL DEFAULT '',  -- draem-inspect version that judged the part
    image_source TEXT NOT NULL DEFAULT ''       -- the frame's file (folder/video sources)
);
"""
_SCHEMA = _TABLE.format(name="inspections") + "CREATE INDEX IF NOT EXISTS inspections_time ON inspections (time);\n"
_V1_COLUMNS = COLUMNS[:11]


class TraceError(DraemError):
    """The trace database cannot be opened, written or exported."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"trace {self.path}: {reason}")


@dataclass(frozen=True)
class TraceConfig:
    """Batching of the writer thread."""

    batch_size: int = 256  # most records written in one transaction
    flush_interval_s: float = 0.5  # longest a record waits in the queue before it is written
    queue_size: int = 50_000  # records held while the disk is slow; beyond that they are counted as lost


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) a trace database in WAL mode with the schema in place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a power cut loses at most the last batch
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 1:
            _migrate_v1(conn)
        elif version > SCHEMA_VERSION:
            conn.close()
            raise TraceError(path, f"written by a newer draem-inspect (schema {version}, this one reads {SCHEMA_VERSION})")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except (sqlite3.Error, OSError) as exc:
        raise TraceError(path, f"cannot open the database ({exc})") from exc
    return conn


def _migrate_v1(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2: scores may be NULL (NOT_JUDGED), six new columns; rows are kept (one transaction)."""
    old = ", ".join(_V1_COLUMNS)
    with conn:
        conn.execute("BEGIN")  # DDL would otherwise commit statement by statement
        conn.execute("ALTER TABLE inspections RENAME TO inspections_v1")
        conn.execute("DROP INDEX IF EXISTS inspections_time")
        conn.execute(_TABLE.format(name="inspections"))
        conn.execute(f"INSERT INTO inspections (id, {old}) SELECT id, {old} FROM inspections_v1")
        conn.execute("DROP TABLE inspections_v1")


class TraceWriter:
    """Appends :class:`InspectionRecord`\\ s to the database from its own thread.

    Args:
        path: The database file.
        config: Batching.
        on_error: The app-level error sink, called as ``on_error("trace", exc)`` from the writer thread.
    """

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
        self._queue: queue.Queue[InspectionRecord | None] = queue.Queue(self.config.queue_size)
        self.written = 0  # records committed
        self.lost = 0  # records dropped because the queue was full or a write failed
        self._conn = connect(self.path)  # fail here, in the caller, when the file cannot be opened
        self._thread = threading.Thread(target=self._run, name="trace-writer", daemon=True)
        self._thread.start()

    label = "trace"  # how the pipeline names this output in error messages

    def append(self, record: InspectionRecord) -> None:
        """Queue a record (never blocks; counts it as lost if the queue is full)."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.lost += 1

    submit = append  # the pipeline's output protocol

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is committed (for tests and export); True if it was."""
        done = threading.Event()
        try:
            self._queue.put(_Barrier(done), timeout=timeout)  # type: ignore[arg-type]
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
            while self._write_batch():
                pass
        finally:
            self._conn.close()

    def _write_batch(self) -> bool:
        """Write up to one batch; False once the stop marker was seen."""
        batch, barriers, keep_going = self._collect()
        if batch:
            try:
                with self._conn:
                    self._conn.executemany(_INSERT, [_row(r) for r in batch])
                self.written += len(batch)
            except (sqlite3.Error, OSError) as exc:
                self.lost += len(batch)
                self._report(TraceError(self.path, f"could not write {len(batch)} records ({exc})"))
        for barrier in barriers:
            barrier.done.set()
        return keep_going

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


_INSERT = f"INSERT INTO inspections ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def _row(r: InspectionRecord) -> tuple:
    roi = json.dumps(list(r.roi)) if r.roi is not None else None
    return (r.time, r.frame_id, r.camera, r.model_name, r.model_version, _finite(r.score), _finite(r.normalized),
            r.threshold, r.verdict, roi, r.latency_ms, r.reason, r.trigger, r.part_id, r.recipe,
            r.software_version, r.image_source)  # fmt: skip


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


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
