"""The audit log: its own table in the real trace database, written on its own thread, nothing lost while the
database cannot be written, and CSV export of a time range (module and CLI)."""

from __future__ import annotations

import csv
import sqlite3
import time
from pathlib import Path

from app.audit import AuditLog, current_user, export_csv, has_event, read_events
from app.trace import SCHEMA_VERSION, TraceWriter


def test_events_share_the_trace_database_in_their_own_table(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    trace = TraceWriter(db)
    log = AuditLog(db)
    log.record("threshold", "0.42", previous="0.35", detail="line1.safetensors", role="engineer")
    log.record("mode", "operator", previous="engineer", role="engineer")
    assert log.flush() and log.written == 2
    log.close()
    trace.close()
    conn = sqlite3.connect(db)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"inspections", "audit"} <= tables
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # the trace's schema untouched
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    first, second = read_events(db)
    assert (first.user, first.role, first.action, first.value, first.previous) == \
        (current_user(), "engineer", "threshold", "0.42", "0.35")  # fmt: skip
    assert first.host and first.time <= second.time and second.value == "operator"
    assert has_event(db, "mode", "") and not has_event(db, "password", "per-user settings")


def test_recording_never_waits_on_a_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    AuditLog(db).close()  # the table exists
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    log = AuditLog(db)
    log.record("outputs", "tcp_enabled=True", role="engineer")  # returns at once: the writer thread waits
    assert log.written == 0 and log._thread.is_alive()
    blocker.execute("COMMIT")
    blocker.close()
    assert log.flush(timeout=30.0) and [e.action for e in read_events(db)] == ["outputs"]
    log.close()


def test_events_are_kept_while_the_database_cannot_be_written(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.write_text("a file where the data folder should be")  # the database cannot be created
    errors: list = []
    log = AuditLog(folder / "trace.sqlite", on_error=lambda where, exc: errors.append((where, str(exc))))
    for n in range(3):
        log.record("threshold", n, role="engineer")
        assert not log.flush()
    assert len(errors) == 1 and errors[0][0] == "audit log" and "trying again" in errors[0][1]  # once per streak
    folder.unlink()  # space again
    assert log.flush() and log.written == 3 and log.dropped == 0
    assert [e.value for e in read_events(folder / "trace.sqlite")] == ["0", "1", "2"]
    log.close()


def test_export_a_time_range_as_csv(tmp_path: Path) -> None:
    db, out = tmp_path / "trace.sqlite", tmp_path / "out" / "audit.csv"
    log = AuditLog(db)
    for action in ("model", "recipe", "acquisition"):
        log.record(action, f"{action} value", role="engineer")
        log.flush()
        time.sleep(0.02)
    log.close()
    times = [e.time for e in read_events(db)]
    assert export_csv(db, out, times[1], times[2]) == 1
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time_utc", "time_unix", "user", "host", "role", "action", "value", "previous", "detail"]
    assert rows[1][5:7] == ["recipe", "recipe value"] and rows[1][0].endswith("Z")
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_audit_export_command(tmp_path: Path, capsys) -> None:
    from app.cli.main import main

    db, out = tmp_path / "trace.sqlite", tmp_path / "audit.csv"
    log = AuditLog(db)
    log.record("mode", "engineer", role="engineer")
    log.close()
    assert main(["audit-export", "--db", str(db), "--out", str(out), "--from", "2000-01-01"]) == 0
    assert "wrote 1 audit events" in capsys.readouterr().out
    assert list(csv.DictReader(out.open()))[0]["value"] == "engineer"
    assert main(["audit-export", "--db", str(db), "--out", str(out), "--from", "2024-05-02", "--to", "2024-05-01"]) == 2
    assert main(["audit-export", "--db", str(tmp_path / "none.sqlite"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--to must be later than --from" in err[0] and "no such database" in err[1]


def test_an_old_trace_database_without_the_table_has_no_events(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    TraceWriter(db).close()
    assert list(read_events(db)) == [] and export_csv(db, tmp_path / "a.csv") == 0
