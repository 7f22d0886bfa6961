"""The writing side of the trace, run by the writer thread: batches with a per-record fall-back, the spool, write-back
and retention. Nothing is dropped silently: every record is written, waits in the spool, or is counted as lost
and reported once per episode with the reason.

* A batch is one transaction. When it fails because of a record (a value SQLite cannot store), the records are
  inserted one by one: only the bad one is lost.
* When the database cannot be written (disk full, locked, damaged), the batch goes to the spool
  (:mod:`app.trace.spool`); every ``retry_s`` the oldest spooled batch is tried again, and once one is written
  the rest follow. New batches are spooled without trying while an outage lasts.
* Retention (:mod:`app.trace.retention`) runs every ``retention_every_s``, in steps.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.pipeline.record import InspectionRecord
from app.trace.retention import Retention, retention_step
from app.trace.schema import INSERT, INSERT_NEW, TraceError, connect, row
from app.trace.spool import TraceSpool, describe, spool_folder

log = logging.getLogger(__name__)

Report = Callable[[BaseException], None]
# A record SQLite cannot take (a NOT NULL value that is NaN, an integer beyond 64 bits, an odd type ...).
RECORD_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError, sqlite3.ProgrammingError,
                 OverflowError, ValueError, TypeError)  # fmt: skip
# The database cannot be written now, whatever the record (full, locked, read-only, damaged, gone).
STORAGE_ERRORS = (sqlite3.Error, OSError)
WRITE_BACK_CHUNKS = 16  # spooled batches written back per turn of the writer thread


@dataclass(frozen=True)
class TraceConfig:
    """Batching, spool and retention of the trace."""

    batch_size: int = 256  # most records written in one transaction
    flush_interval_s: float = 0.5  # longest a record waits in the queue before it is written
    queue_size: int = 50_000  # records held while the disk is slow; beyond that they are counted as lost
    retry_s: float = 5.0  # while records wait in the spool: how often writing is tried again
    spool_folder: Path | None = None  # where waiting records are kept on disk; None: <database>.spool beside it
    spool_disk_mb: float = 256.0  # most the spool keeps on disk (about 700,000 records)
    spool_memory_records: int = 50_000  # then most it keeps in memory (about 12-25 MB; lost if the program ends)
    keep_days: float = 0.0  # inspections older than this are deleted; 0: kept regardless of age (plants often
    # must keep records for years: an age limit is theirs to choose)
    max_gb: float = 20.0  # the database is kept below this by deleting the oldest inspections (0: no limit)
    retention_every_s: float = 600.0  # how often the writer thread applies keep_days and max_gb
    retention_chunk: int = 5_000  # most rows one retention step deletes (one short transaction)


class LossLog:
    """Counts lost records by kind; reports the first loss of each episode (a kind with no loss for ``quiet_s``
    ends its episode; the total is logged then)."""

    def __init__(self, report: Report, path: Path, quiet_s: float = 60.0) -> None:
        self._report, self._path, self._quiet_s = report, path, quiet_s
        self.total = 0
        self._open: dict[str, list] = {}  # kind -> [count, last loss (monotonic), reason]

    def lost(self, count: int, kind: str, reason: str) -> None:
        if count <= 0:
            return
        self.total += count
        episode = self._open.get(kind)
        if episode is not None:
            episode[0] += count
            episode[1] = time.monotonic()
            return
        self._open[kind] = [count, time.monotonic(), reason]
        self._report(TraceError(self._path, f"{count} record(s) lost: {reason} (further losses of this kind "
                                            "are counted, not reported, until they stop)"))  # fmt: skip

    def tick(self, now: float, force: bool = False) -> None:
        for kind, (count, last, reason) in list(self._open.items()):
            if force or now - last > self._quiet_s:
                del self._open[kind]
                log.warning("trace %s: %d record(s) lost in all: %s", self._path, count, reason)


class TraceStore:
    """The database connection and everything the writer thread does with it.

    Args:
        path: The database file (opened here: raises :class:`TraceError` when it cannot be).
        config: Spool and retention settings.
        report: Called with each problem worth telling the operator (from the writer thread).
    """

    def __init__(self, path: Path, config: TraceConfig, report: Report) -> None:
        self.path, self.config, self._report = path, config, report
        self.conn = connect(path)
        self.spool = TraceSpool(spool_folder(path, config.spool_folder), int(config.spool_disk_mb * 2**20),
                                config.spool_memory_records)  # fmt: skip
        self.losses = LossLog(report, path)
        self.written = 0  # records committed
        self.written_back = 0  # of which came from the spool
        self._outage = False  # the database could not be written; records go to the spool
        self._retry_at = 0.0  # while in an outage: when to try again
        self._retention = Retention(config.keep_days, int(config.max_gb * 1e9), config.retention_chunk)
        self._retention_at = 0.0  # when retention runs next (soon after start)

    def write(self, records: list[InspectionRecord]) -> None:
        """Write a batch; what the database cannot take now is spooled, what it never can is counted lost."""
        rows = self._rows(records)
        if self._outage and time.monotonic() < self._retry_at:
            self._spool(rows)
            return
        left, error = self._commit(rows, INSERT)
        if left:
            self._start_outage(error)
            self._spool(left)
        else:
            self._end_outage_if_clear()

    def tick(self, now: float) -> None:
        """Periodic work: write spooled records back when due, apply retention, end quiet loss episodes."""
        if len(self.spool) and now >= self._retry_at:
            self._write_back(now)
        if now >= self._retention_at and not self._outage:
            self._apply_retention(now)
        self.losses.tick(now)

    def close(self) -> None:
        """Try the spool a last time; records still in memory are lost (reported), those on disk wait for the next
        start. Closes the database."""
        if len(self.spool):
            self._retry_at = 0.0
            self._write_back(time.monotonic(), every=True)
        self.losses.lost(self.spool.take_memory(), "end", "the program ended while the database could not be written")
        if len(self.spool):
            log.warning("trace %s: %d record(s) wait %s for the next start", self.path, len(self.spool),
                        describe(self.spool))  # fmt: skip
        self.losses.tick(time.monotonic(), force=True)
        self.conn.close()

    # --- writing -------------------------------------------------------------------------------------

    def _rows(self, records: list[InspectionRecord]) -> list[tuple]:
        rows = []
        for record in records:
            try:
                rows.append(row(record))
            except (TypeError, ValueError, AttributeError) as exc:  # not a record the trace can describe
                self.losses.lost(1, "record", f"a record cannot be stored ({type(exc).__name__}: {exc})")
        return rows

    def _commit(self, rows: list[tuple], sql: str) -> tuple[list[tuple], BaseException | None]:
        """Write rows; returns those left unwritten because the database cannot be written now, and why."""
        try:
            with self.conn:
                self.conn.executemany(sql, rows)
            self.written += len(rows)
            return [], None
        except RECORD_ERRORS:
            pass
        except STORAGE_ERRORS as exc:
            return rows, exc
        for i, one in enumerate(rows):  # a bad record spoiled the batch: one by one, only it is lost
            try:
                with self.conn:
                    self.conn.execute(sql, one)
                self.written += 1
            except RECORD_ERRORS as exc:
                self.losses.lost(1, "record", f"a record cannot be stored ({type(exc).__name__}: {exc})")
            except STORAGE_ERRORS as exc:
                return rows[i:], exc
        return [], None

    def _spool(self, rows: list[tuple]) -> None:
        dropped = self.spool.add(rows)
        self.losses.lost(dropped, "spool", f"the database cannot be written and the spool is full ({describe(self.spool)})")

    def _start_outage(self, error: BaseException | None) -> None:
        self._retry_at = time.monotonic() + self.config.retry_s
        if not self._outage:
            self._outage = True
            self._report(TraceError(self.path, f"cannot write ({error}); records wait {describe(self.spool)} and are "
                                               "written when the database can be written again"))  # fmt: skip

    def _write_back(self, now: float, every: bool = False) -> None:
        for _ in range(WRITE_BACK_CHUNKS if not every else len(self.spool) + 1):
            rows = self.spool.oldest()
            if rows is None:
                break
            before = self.written
            left, error = self._commit(rows, INSERT_NEW)  # a retry after a partial write skips what was written
            if left:
                self._start_outage(error)
                return
            self.written_back += self.written - before
            self.spool.remove_oldest()
        self.losses.lost(self.spool.damaged, "damaged", "a spool file could not be read back")
        self.spool.damaged = 0
        self._end_outage_if_clear()

    def _end_outage_if_clear(self) -> None:
        if self._outage and not len(self.spool):
            self._outage = False
            log.info("trace %s: writing again; %d spooled record(s) written back", self.path, self.written_back)

    def _apply_retention(self, now: float) -> None:
        try:
            deleted, more = retention_step(self.conn, self._retention, time.time())
        except STORAGE_ERRORS as exc:
            log.warning("trace %s: retention step failed (%s); tried again later", self.path, exc)
            deleted, more = 0, False
        if deleted:
            log.info("trace %s: retention deleted %d old inspection(s)", self.path, deleted)
        self._retention_at = now if more else now + self.config.retention_every_s
