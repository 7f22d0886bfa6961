"""The SQLite trace (writer thread, WAL, CSV export, CLI) and the NG image store (rate, quota, disk full)."""

from __future__ import annotations

import collections
import csv
import dataclasses
import errno
import json
import math
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.ng_store import FRAME_SUFFIX, OVERLAY_SUFFIX, QUOTA_LOW, NgStore, NgStoreConfig, NgStoreState
from app.pipeline.record import InspectionRecord
from app.sources.base import Frame
from app.trace import TraceConfig, TraceWriter, export_csv, iso_utc, parse_time
from app.trace.retention import used_bytes
from app.trace.schema import INSERT as _INSERT_FOR_TEST
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


# --- nothing lost: bad records, a full disk, the spool, retention -------------------------------------


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def count_rows(db: Path, where: str = "1") -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM inspections WHERE {where}").fetchone()[0]
    finally:
        conn.close()


def disk_full(writer: TraceWriter, full: bool) -> None:
    """SQLite's own "database or disk is full" (SQLITE_FULL): the database may not grow by a page (set between
    batches, on the writer's connection; the limit belongs to that connection only)."""
    assert writer.flush()
    conn = writer._store.conn
    limit = conn.execute("PRAGMA page_count").fetchone()[0] if full else 4_294_967_294
    conn.execute(f"PRAGMA max_page_count={limit}")


def reporting_writer(db: Path, errors: list[str], **config) -> TraceWriter:
    config = {"flush_interval_s": 0.05, **config}
    return TraceWriter(db, TraceConfig(**config), on_error=lambda where, exc: errors.append(f"{where}: {exc}"))


def test_a_bad_record_costs_only_itself_not_its_batch(tmp_path: Path) -> None:
    errors: list[str] = []
    writer = reporting_writer(tmp_path / "trace.sqlite", errors, batch_size=256)
    for i in range(256):
        r = record(i)
        if i in (17, 200):  # a 64-bit camera frame counter beyond SQLite's INTEGER; a threshold that is NaN
            r = dataclasses.replace(r, frame_id=2**64 - 5) if i == 17 else dataclasses.replace(r, threshold=math.nan)
        writer.append(r)
    assert writer.flush()
    assert writer.written == 254 and writer.lost == 2
    assert count_rows(tmp_path / "trace.sqlite") == 254
    assert len(errors) == 1 and "1 record(s) lost: a record cannot be stored (OverflowError" in errors[0]
    writer.close()


def test_a_full_disk_loses_nothing_records_wait_in_the_spool_and_are_written_back(tmp_path: Path) -> None:
    db, errors = tmp_path / "trace.sqlite", []
    writer = reporting_writer(db, errors, retry_s=0.2)
    writer.append(record(0))
    disk_full(writer, True)
    for i in range(1, 20_001):
        writer.append(record(i))
    assert writer.flush(30.0)
    assert writer.spooled == 20_000 and writer.lost == 0
    assert list((tmp_path / "trace.sqlite.spool").glob("*.jsonl"))  # waiting on disk: a restart keeps them
    assert len(errors) == 1 and "database or disk is full" in errors[0] and "records wait in" in errors[0]
    disk_full(writer, False)  # space returns
    wait_until(lambda: writer.spooled == 0)
    writer.close()
    assert writer.written == 20_001 and writer.lost == 0 and len(errors) == 1
    assert count_rows(db) == 20_001 and count_rows(db, "frame_id BETWEEN 1 AND 20000") == 20_000
    assert not list((tmp_path / "trace.sqlite.spool").iterdir())


def test_the_memory_spool_is_bounded_and_what_it_cannot_hold_is_counted_and_reported_once(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the spool folder would go: the spool cannot use the disk")
    db, errors = tmp_path / "trace.sqlite", []
    writer = reporting_writer(db, errors, retry_s=0.2, spool_folder=blocked / "spool", spool_memory_records=1_000)
    disk_full(writer, True)
    for i in range(5_000):
        writer.append(record(i))
    assert writer.flush(30.0)
    assert writer.spooled == 1_000 and writer.lost == 4_000
    assert len(errors) == 2  # the outage, then the loss: once, with its reason and the bounds
    assert "4000 record(s) lost" not in errors[1] and "spool is full" in errors[1] and "1,000 records" in errors[1]
    disk_full(writer, False)
    wait_until(lambda: writer.spooled == 0)
    writer.close()
    assert writer.written == 1_000 and writer.written + writer.lost == 5_000 and count_rows(db) == 1_000


def test_an_outage_ends_when_writing_works_even_if_nothing_could_be_spooled(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("x")
    db, errors = tmp_path / "trace.sqlite", []
    writer = reporting_writer(db, errors, retry_s=0.1, spool_folder=blocked, spool_memory_records=0)
    for outage in range(2):
        disk_full(writer, True)
        for i in range(300):  # more than the pages at hand take
            writer.append(record(i))
        assert writer.flush() and writer.lost > 0 and writer.spooled == 0
        disk_full(writer, False)
        time.sleep(0.15)
        writer.append(record(1000 + outage))
        assert writer.flush() and count_rows(db, f"frame_id = {1000 + outage}") == 1
    writer.close()
    outages = [e for e in errors if "cannot write" in e]
    assert len(outages) == 2  # the second disk-full is a new episode, reported again


def test_records_spooled_on_disk_survive_a_restart_and_are_written_once(tmp_path: Path) -> None:
    db, errors = tmp_path / "trace.sqlite", []
    writer = reporting_writer(db, errors, retry_s=60.0)
    disk_full(writer, True)
    for i in range(600):
        writer.append(record(i))
    writer.close()  # the disk is still full when the program ends
    assert writer.lost == 0 and count_rows(db) == 0
    chunks = sorted((tmp_path / "trace.sqlite.spool").glob("*.jsonl"))
    assert chunks
    conn = sqlite3.connect(db)  # the first chunk was committed just before a crash, its file not yet removed
    conn.executemany(_INSERT_FOR_TEST, [tuple(json.loads(line)) for line in chunks[0].read_text().splitlines()])
    conn.commit()
    conn.close()
    writer = reporting_writer(db, errors)
    wait_until(lambda: writer.spooled == 0)
    writer.close()
    frames = [r[0] for r in sqlite3.connect(db).execute("SELECT frame_id FROM inspections ORDER BY frame_id")]
    assert frames == list(range(600))  # every record once: the chunk committed before the crash is skipped


def test_retention_deletes_old_inspections_and_keeps_the_database_below_its_size(tmp_path: Path) -> None:
    db = tmp_path / "trace.sqlite"
    now = time.time()
    writer = TraceWriter(db, TraceConfig(keep_days=30, max_gb=0, retention_every_s=0.05, flush_interval_s=0.05))
    for i, age_days in enumerate([400, 100, 31, 29, 1, 0]):
        writer.append(record(i, t=now - age_days * 86_400))
    assert writer.flush()
    wait_until(lambda: count_rows(db) == 3)
    writer.close()
    assert [r[0] for r in sqlite3.connect(db).execute("SELECT frame_id FROM inspections ORDER BY time")] == [3, 4, 5]

    sized = tmp_path / "sized.sqlite"
    limit = 400_000
    writer = TraceWriter(sized, TraceConfig(max_gb=limit / 1e9, retention_every_s=0.05, retention_chunk=500,
                                            flush_interval_s=0.01))  # fmt: skip
    for i in range(20_000):
        writer.append(record(i, t=now + i))
        if i % 2_000 == 1_999:
            assert writer.flush()
    wait_until(lambda: used_bytes(writer._store.conn) <= limit)
    writer.close()
    kept = [r[0] for r in sqlite3.connect(sized).execute("SELECT frame_id FROM inspections ORDER BY time")]
    assert kept[-1] == 19_999 and kept == list(range(kept[0], 20_000))  # the newest kept, the oldest deleted
    assert 20_000 > len(kept) > 1_000
    # deleted pages are re-used: the file stops growing (20,000 records take about 3 MB; bursts of 2,000 between
    # retention steps go over the limit for a moment)
    assert sized.stat().st_size < 3 * limit


def test_a_full_queue_is_counted_and_reported_once(tmp_path: Path) -> None:
    errors: list[str] = []
    writer = reporting_writer(tmp_path / "trace.sqlite", errors, queue_size=10)
    for i in range(5_000):  # far faster than one transaction per batch of at most 10
        writer.append(record(i))
    writer.close()
    assert writer.lost > 0 and writer.written + writer.lost == 5_000
    assert len(errors) == 1 and "queue of 10 records was full" in errors[0]


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


def test_quota_counts_images_of_an_earlier_run_and_frees_down_to_its_low_mark(tmp_path: Path) -> None:
    folder = tmp_path / "ng"
    first = NgStore(NgStoreConfig(folder, max_per_second=1000.0))
    for i in range(4):  # an earlier run's images
        assert first.submit(*ng_case(i)) and first.flush()
    first.close()
    pair_bytes = first.used_bytes / 4
    store = NgStore(NgStoreConfig(folder, max_per_second=1000.0, quota_mb=10.5 * pair_bytes / 2**20))
    assert store.used_bytes == first.used_bytes  # the earlier images are counted
    low, seen = QUOTA_LOW * store.config.quota_mb * 2**20, []
    for i in range(4, 40):
        assert store.submit(*ng_case(i)) and store.flush()
        seen.append(store.used_bytes)
        on_disk = sum(p.stat().st_size for p in folder.iterdir())
        assert store.used_bytes == on_disk <= store.config.quota_mb * 2**20
    freed = [after for before, after in zip(seen, seen[1:], strict=False) if after < before]
    assert freed and all(after <= low for after in freed)  # in chunks: not a folder scan for every image
    assert not list(folder.glob(f"*_0{FRAME_SUFFIX}")) and list(folder.glob(f"*_39{FRAME_SUFFIX}"))
    containers = [v for v in vars(store).values() if isinstance(v, list | dict | set | collections.deque)]
    assert all(len(v) < 10 for v in containers)  # nothing in memory grows with the number of images saved
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
