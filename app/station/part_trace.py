"""Part verdicts in the trace: a ``parts`` table next to ``inspections`` in the same SQLite database.

Every camera's record is a row of ``inspections`` (camera, trigger number, part id …); a triggered part's
verdict across the cameras is a row of ``parts`` with each camera's record in it (JSON), so the trace answers
"which cameras rejected part X" even for hardware-triggered parts, whose records carry no trigger number. The
table is added to a database when the station opens it: existing rows and older readers are unaffected.
Written from its own thread (never blocking an inspection worker), in batches, like the inspections.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from app.pipeline.record import PartRecord
from app.trace import TraceError, connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parts (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,           -- Unix epoch seconds of the last camera's verdict
    trigger INTEGER NOT NULL,     -- the trigger's number (0: a hardware trigger the station did not issue)
    part_id TEXT NOT NULL,        -- the part id given with the trigger
    verdict TEXT NOT NULL,        -- OK, NG or NOT_JUDGED across every camera
    recipe TEXT NOT NULL,
    cameras TEXT NOT NULL         -- JSON list of each camera's record (camera, frame_id, verdict, score, reason …)
);
CREATE INDEX IF NOT EXISTS parts_time ON parts (time);
"""
_INSERT = "INSERT INTO parts (time, trigger, part_id, verdict, recipe, cameras) VALUES (?, ?, ?, ?, ?, ?)"
QUEUE_SIZE = 50_000  # parts held while the disk is slow; beyond that they are counted as lost


class PartTrace:
    """Appends :class:`PartRecord` s to the ``parts`` table from its own thread.

    Args:
        path: The trace database (created with the inspections table if missing).
        on_error: The station's error sink, called as ``on_error("trace", exc)``.

    Raises:
        TraceError: the database cannot be opened.
    """

    label = "part trace"

    def __init__(self, path: str | Path, *, on_error: Callable[[str, BaseException], None] | None = None) -> None:
        self.path = Path(path)
        self._on_error = on_error
        self.written = 0  # parts committed
        self.lost = 0  # parts not written (queue full, or a write failed)
        self._conn = connect(self.path)
        try:
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._conn.close()
            raise TraceError(self.path, f"cannot add the parts table ({exc})") from exc
        self._queue: queue.Queue[PartRecord | threading.Event | None] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="part-trace-writer", daemon=True)
        self._thread.start()

    def submit_part(self, part: PartRecord) -> None:
        """Queue a part (never blocks; counted as lost when the queue is full)."""
        try:
            self._queue.put_nowait(part)
        except queue.Full:
            self.lost += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every part queued so far is committed; True if it was."""
        done = threading.Event()
        self._queue.put(done, timeout=timeout)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the thread and close the database."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                batch, markers, stop = [], [], item is None
                while item is not None:
                    (markers if isinstance(item, threading.Event) else batch).append(item)
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                stop = stop or item is None
                self._write(batch)
                for marker in markers:
                    marker.set()
                if stop:
                    return
        finally:
            self._conn.close()

    def _write(self, batch: list[PartRecord]) -> None:
        if not batch:
            return
        try:
            with self._conn:
                self._conn.executemany(_INSERT, [_row(p) for p in batch])
            self.written += len(batch)
        except (sqlite3.Error, OSError) as exc:
            self.lost += len(batch)
            if self._on_error is not None:
                self._on_error("trace", TraceError(self.path, f"could not write {len(batch)} part verdicts ({exc})"))


def _row(part: PartRecord) -> tuple:
    cameras = json.dumps(part.to_dict()["cameras"], separators=(",", ":"))
    return part.time, part.trigger, part.part_id, part.verdict, part.recipe, cameras


def read_parts(path: str | Path) -> Iterator[tuple]:
    """Every part row ``(time, trigger, part_id, verdict, recipe, cameras)``, oldest first, cameras decoded."""
    conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=10.0)
    try:
        for *head, cameras in conn.execute("SELECT time, trigger, part_id, verdict, recipe, cameras FROM parts "
                                           "ORDER BY time, id"):  # fmt: skip
            yield (*head, json.loads(cameras))
    except sqlite3.Error as exc:
        raise TraceError(path, f"cannot read the parts ({exc})") from exc
    finally:
        conn.close()
