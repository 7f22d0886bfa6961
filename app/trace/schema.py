"""The trace database: its schema (version 2), opening it in WAL mode, migrating schema 1, and the row of a record."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

from app.pipeline.record import InspectionRecord
from draem_core.errors import DraemError, shown

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
INSERT = f"INSERT INTO inspections ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
# A row written back from the spool may have been committed once already (a crash between the commit and the
# removal of its spool file): it is inserted only when no row of the same time, camera and frame exists.
INSERT_NEW = (f"INSERT INTO inspections ({', '.join(COLUMNS)}) SELECT {', '.join('?' * len(COLUMNS))} "
              "WHERE NOT EXISTS (SELECT 1 FROM inspections WHERE time = ?1 AND camera = ?3 AND frame_id = ?2)")  # fmt: skip


class TraceError(DraemError):
    """The trace database cannot be opened, written or exported."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"trace {shown(self.path)}: {reason}")


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


def row(r: InspectionRecord) -> tuple:
    """A record's values in :data:`COLUMNS` order (non-finite scores as NULL: the part was not judged)."""
    roi = json.dumps(list(r.roi)) if r.roi is not None else None
    return (r.time, r.frame_id, r.camera, r.model_name, r.model_version, _finite(r.score), _finite(r.normalized),
            r.threshold, r.verdict, roi, r.latency_ms, r.reason, r.trigger, r.part_id, r.recipe,
            r.software_version, r.image_source)  # fmt: skip


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
