"""Retention of the trace: inspections older than ``keep_days``, and the oldest beyond ``max_bytes``, are deleted.

Run by the trace's writer thread in short steps (at most ``chunk`` rows per transaction), so writing new
records is never held up for long and inspection never waits at all. Only the ``inspections`` table is
touched. SQLite keeps the pages of deleted rows for new ones: the file stops growing at about ``max_bytes``
instead of shrinking (a VACUUM would copy the whole file; it is left to maintenance).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

DAY_S = 86_400.0


@dataclass(frozen=True)
class Retention:
    """How long and how much of the trace is kept."""

    keep_days: float  # inspections older than this are deleted; 0 keeps them regardless of age
    max_bytes: int  # the database's pages in use are kept below this by deleting the oldest; 0: no limit
    chunk: int  # most rows one step deletes (one short transaction)


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the database's pages that hold data (free pages left by deletions excluded)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
    return pages * conn.execute("PRAGMA page_size").fetchone()[0]


def retention_step(conn: sqlite3.Connection, policy: Retention, now: float) -> tuple[int, bool]:
    """Delete at most ``policy.chunk`` rows that the policy no longer keeps.

    Returns:
        ``(deleted, more)``: rows deleted, and whether more are due (call again soon).
    """
    if policy.keep_days > 0:
        deleted = _delete_oldest(conn, policy.chunk, before=now - policy.keep_days * DAY_S)
        if deleted:
            return deleted, deleted >= policy.chunk
    if policy.max_bytes > 0 and used_bytes(conn) > policy.max_bytes:
        deleted = _delete_oldest(conn, policy.chunk)
        return deleted, deleted > 0
    return 0, False


def _delete_oldest(conn: sqlite3.Connection, limit: int, before: float | None = None) -> int:
    where = "WHERE time < ?" if before is not None else ""
    params = (before, limit) if before is not None else (limit,)
    sql = f"DELETE FROM inspections WHERE id IN (SELECT id FROM inspections {where} ORDER BY time, id LIMIT ?)"
    with conn:
        return conn.execute(sql, params).rowcount
