"""The SQLite trace (writer thread, WAL, CSV export, CLI) and the NG image store (rate, quota, disk full)."""

from __future__ import annotations

import csv
import errno
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.ng_store import FRAME_SUFFIX, OVERLAY_SUFFIX, NgStore, NgStoreConfig, NgStoreState
from app.pipeline.record import InspectionRecord
from app.sources.base import Frame
from app.trace import TraceConfig, TraceWriter, export_csv, iso_utc, parse_time
from draem_core.imageio import read_image, write_image_atomic
from draem_core.inspector import InspectionResult

T0 = parse_time("2024-05-01T08:00:00Z")


def record(i: int, verdict: str = "OK", t: float | None = None) -> InspectionRecord:
    return InspectionRecord(
        time=T0 + i if t is None else t, frame_id=i, camera="CAM-7", model_name="flange", model_version="v3",
        score=0.1 + i / 1000, normalized=0.2, threshold=0.3, verdict=verdict,
        roi=(1, 2, 30, 40) if i % 2 else None, latency_ms=12.5,
    )  # fmt: skip


def test_records_are_written_in_batches_from_a_writer_thread(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    writer = TraceWriter(db, TraceConfig(batch_size=64, flush_interval_s=0.05))
    caller = threading.get_ident()
    for i in range(500):
        writer.append(record(i, "NG" if i % 10 == 0 else "OK"))
    assert writer.flush()
    assert writer._thread.ident != caller and writer.written == 500 and writer.lost == 0
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = conn.execute(
        "SELECT time, frame_id, camera, model_name, model_version, verdict, roi FROM inspections"
    ).fetchall()
    assert len(rows) == 500
    assert rows[0] == (T0, 0, "CAM-7", "flange", "v3", "NG", None)
    assert rows[1][6] == "[1, 2, 30, 40]"
    assert conn.execute("SELECT COUNT(*) FROM inspections WHERE verdict='NG'").fetchone()[0] == 50
    conn.close()
    writer.close()
    assert not writer._thread.is_alive()


def test_a_schema_1_trace_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    old = sqlite3.connect(db)  # the schema the app wrote up to 0.1.0: scores NOT NULL, no reason column
    old.executescript("""
        CREATE TABLE inspections (id INTEGER PRIMARY KEY, time REAL NOT NULL, frame_id INTEGER NOT NULL,
            camera TEXT NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL, score REAL NOT NULL,
            normalized REAL NOT NULL, threshold REAL NOT NULL, verdict TEXT NOT NULL, roi TEXT,
            latency_ms REAL NOT NULL);
        INSERT INTO inspections VALUES (1, 10.0, 5, 'CAM-7', 'flange', 'v1', 0.2, 0.4, 0.3, 'OK', NULL, 9.0);
        PRAGMA user_version=1;
    """)
    old.close()
    writer = TraceWriter(db)
    refused = InspectionRecord(time=T0, frame_id=0, camera="CAM-7", model_name="flange", model_version="v3",
                               score=None, normalized=None, threshold=0.3, verdict="NOT_JUDGED", roi=None,
                               latency_ms=1.0, reason="no frame after the trigger within 2 s", trigger=4,
                               part_id="SN-9")  # fmt: skip
    writer.append(refused)
    assert writer.flush() and writer.lost == 0
    writer.close()
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT id, verdict, score, reason, trigger, part_id FROM inspections ORDER BY id").fetchall()
    assert rows == [(1, "OK", 0.2, "", 0, ""), (2, "NOT_JUDGED", None, "no frame after the trigger within 2 s", 4, "SN-9")]
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2


def test_reader_is_not_blocked_while_writing(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    writer = TraceWriter(db, TraceConfig(flush_interval_s=0.01))
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM inspections").fetchone()  # an open read transaction (WAL snapshot)
    for i in range(50):
        writer.append(record(i))
    assert writer.flush() and writer.written == 50
    reader.rollback()
    assert reader.execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == 50
    writer.close()


def test_csv_export_of_a_time_range(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    writer = TraceWriter(db)
    for i in range(100):
        writer.append(record(i))
    writer.close()
    out = tmp_path / "out" / "range.csv"
    assert export_csv(db, out, T0 + 10, T0 + 20) == 10
    rows = list(csv.DictReader(out.open()))
    assert [int(r["frame_id"]) for r in rows] == list(range(10, 20))
    assert rows[0]["time_utc"] == "2024-05-01T08:00:10.000Z" and float(rows[0]["time_unix"]) == T0 + 10
    assert rows[0]["verdict"] == "OK" and rows[1]["roi"] == "[1, 2, 30, 40]"
    assert not list(out.parent.glob(".*.tmp"))  # written atomically, no temp file left


def test_trace_export_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    db = tmp_path / "trace.sqlite"
    writer = TraceWriter(db)
    for i in range(30):
        writer.append(record(i, "NG" if i >= 25 else "OK"))
    writer.close()
    out = tmp_path / "export.csv"
    code = main(["trace-export", "--db", str(db), "--from", "2024-05-01T08:00:20Z", "--to", "2024-05-01T09:00Z",
                 "--out", str(out)])  # fmt: skip
    assert code == 0 and "wrote 10 inspections" in capsys.readouterr().out
    assert sum(1 for r in csv.DictReader(out.open()) if r["verdict"] == "NG") == 5

    assert main(["trace-export", "--db", str(tmp_path / "none.sqlite"), "--out", str(out)]) == 2
    assert "no such trace database" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["trace-export", "--from", "yesterday", "--out", str(out)])
    assert "not an ISO 8601" in capsys.readouterr().err


def test_time_parsing() -> None:
    assert iso_utc(parse_time("2024-05-01T08:00:00.250+02:00")) == "2024-05-01T06:00:00.250Z"
    assert parse_time("2024-05-02") - parse_time("2024-05-01") == pytest.approx(86400, abs=3600)


# --- NG images ----------------------------------------------------------------------------------


def ng_case(i: int, size: int = 64) -> tuple[Frame, InspectionResult, InspectionRecord]:
    rng = np.random.default_rng(i)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)  # noise: does not compress
    amap = np.zeros((size, size), np.float32)
    amap[10:30, 10:30] = 0.9
    result = InspectionResult(amap, 0.8, 0.9, 0.5, "NG", None)
    return Frame(image, i, time.monotonic(), source_id="CAM-7"), result, record(i, "NG", t=time.time() + i)


def test_ng_images_are_saved_with_overlay_and_rate_limited(tmp_path: Path) -> None:
    store = NgStore(NgStoreConfig(tmp_path / "ng", max_per_second=2.0))
    accepted = [store.submit(*ng_case(i)) for i in range(10)]  # a burst of rejects
    assert accepted[0] and sum(accepted) == 1 and store.skipped == 9
    assert store.flush()
    frame_file = next((tmp_path / "ng").glob(f"*CAM-7_0{FRAME_SUFFIX}"))
    overlay = read_image(frame_file.with_name(frame_file.name.replace(FRAME_SUFFIX, OVERLAY_SUFFIX)))
    assert np.array_equal(read_image(frame_file), ng_case(0)[0].image)  # the frame itself, lossless
    outline = overlay[10, 10:30]  # the contour of the region above the threshold is drawn in white
    assert (outline.min(axis=-1) > 200).sum() > 10
    store.close()


def test_quota_removes_the_oldest_images_but_nothing_else(tmp_path: Path) -> None:
    folder = tmp_path / "ng"
    folder.mkdir()
    database = folder / "trace.sqlite"
    database.write_bytes(b"x" * 100_000)  # must survive the quota
    pair_bytes = 2 * 64 * 64 * 3  # roughly one frame png + overlay jpg of noise
    store = NgStore(NgStoreConfig(folder, max_per_second=1000.0, quota_mb=3.5 * pair_bytes / 2**20))
    for i in range(8):
        assert store.submit(*ng_case(i))
        assert store.flush()
    frames = sorted(folder.glob(f"*{FRAME_SUFFIX}"))
    assert 2 <= len(frames) < 8 and store.saved == 8
    assert frames[-1].name.endswith(f"_7{FRAME_SUFFIX}")  # the newest kept, the oldest removed
    assert not list(folder.glob(f"*_0{FRAME_SUFFIX}"))
    assert store.used_bytes <= store.config.quota_mb * 2**20
    assert database.stat().st_size == 100_000
    store.close()


def test_disk_full_pauses_saving_and_recovers(tmp_path: Path) -> None:
    full = threading.Event()
    full.set()

    def disk(path: Path, image: np.ndarray) -> Path:  # the real writer behind a switchable full disk
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_image_atomic(path, image)

    errors: list[BaseException] = []
    store = NgStore(NgStoreConfig(tmp_path / "ng", max_per_second=1000.0, retry_after_s=0.3),
                    write=disk, on_error=lambda where, exc: errors.append(exc))  # fmt: skip
    assert store.submit(*ng_case(0)) and store.flush()
    assert store.state == NgStoreState.DISK_FULL and "disk full" in store.warning
    assert errors and "inspection continues" in str(errors[0])
    assert not store.submit(*ng_case(1))  # paused: not even queued
    assert not list((tmp_path / "ng").iterdir())
    full.clear()
    time.sleep(0.35)
    assert store.submit(*ng_case(2)) and store.flush()
    assert store.state == NgStoreState.SAVING and store.warning == "" and store.saved == 1
    store.close()
