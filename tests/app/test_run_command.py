"""``draem-inspect run``: the station without a window, its JSON report, triggers and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli.main import main

KEYS = {"ok", "ng", "not_judged", "triggers", "dropped", "fps", "latency_p50_ms", "latency_p95_ms"}


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DRAEM_INSPECT_HOME", str(home))
    return home


def test_free_run_reports_every_camera_and_traces_every_verdict(images: Path, tiny_model: Path, tmp_path: Path,
                                                                 capsys) -> None:  # fmt: skip
    report, trace = tmp_path / "report.json", tmp_path / "trace.sqlite"
    code = main(["run", "--source", f"folder:{images}", "--model", str(tiny_model), "--frames", "5",
                 "--trace", str(trace), "--json", str(report), "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    doc = json.loads(report.read_text())
    assert json.loads(capsys.readouterr().out) == doc  # printed and written alike
    assert KEYS <= set(doc) and len(doc["cameras"]) == 1 and KEYS <= set(doc["cameras"][0])
    assert doc["ok"] + doc["ng"] + doc["not_judged"] >= 5 and doc["triggers"] == 0
    rows = sqlite3.connect(trace).execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    assert rows >= doc["ok"] + doc["ng"] + doc["not_judged"]  # the trace holds them (and any before the run)


def test_software_triggers_on_two_sources_give_each_trigger_one_verdict_per_camera(images: Path, tiny_model: Path,
                                                                                   capsys) -> None:  # fmt: skip
    code = main(["run", "--source", f"folder:{images}", "--source", "demo", "--model", str(tiny_model),
                 "--trigger", "software", "--rate", "10", "--frames", "8", "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert doc["mode"] == "software" and doc["triggers"] == 8 and len(doc["cameras"]) == 2
    for camera in doc["cameras"]:
        assert camera["ok"] + camera["ng"] + camera["not_judged"] == 8 and camera["triggers"] == 8
    assert [c["spec"] for c in doc["cameras"]] == [f"folder:{images}", "demo"]


def test_three_sources_report_three_cameras_and_one_verdict_per_part(images: Path, tiny_model: Path,
                                                                     capsys) -> None:  # fmt: skip
    code = main(["run", "--source", f"folder:{images}", "--source", "demo", "--source", f"folder:{images}",
                 "--model", str(tiny_model), "--trigger", "software", "--rate", "10", "--frames", "6",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    names = [c["camera"] for c in doc["cameras"]]
    assert len(names) == len(set(names)) == 3 and names[2] == f"{names[0]} #2"  # the same folder twice: two cameras
    assert all(c["ok"] + c["ng"] + c["not_judged"] == 6 for c in doc["cameras"])
    assert doc["ok"] + doc["ng"] + doc["not_judged"] == 18  # every camera's verdicts
    parts = doc["parts"]
    assert parts["ok"] + parts["ng"] + parts["not_judged"] == 6 and parts["latency_p95_ms"] > 0  # one per trigger


def test_a_source_that_cannot_open_is_one_line(tmp_path: Path, tiny_model: Path, capsys) -> None:
    code = main(["run", "--source", f"folder:{tmp_path / 'nowhere'}", "--model", str(tiny_model), "--frames", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "nowhere" in err[-1] and "does not exist" in err[-1] and "Traceback" not in "".join(err)


@pytest.mark.slow
def test_sigterm_ends_the_run_cleanly_with_the_trace_flushed(images: Path, tiny_model: Path, tmp_path: Path,
                                                             data_home: Path) -> None:  # fmt: skip
    trace = tmp_path / "trace.sqlite"
    env = {**os.environ, "DRAEM_INSPECT_HOME": str(data_home), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", "--source", f"folder:{images}", "--model",
                             str(tiny_model), "--trace", str(trace), "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (trace.exists() and _rows(trace) > 3):  # judging for a while
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    doc = json.loads(out)
    judged = doc["ok"] + doc["ng"] + doc["not_judged"]
    assert judged > 0 and _rows(trace) >= judged  # every verdict of the report reached the database


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_the_report_tally_stays_small_however_long_the_run() -> None:
    import tracemalloc

    from app.pipeline.record import InspectionRecord
    from app.station.headless import RecordTally

    def records(start: int, count: int):
        for i in range(start, start + count):
            yield InspectionRecord(time=float(i), frame_id=i, camera=f"CAM-{i % 2}", model_name="m", model_version="v",
                                   score=0.1, normalized=0.2, threshold=0.3, verdict=("OK", "NG", "NOT_JUDGED")[i % 3],
                                   roi=None, latency_ms=float(i % 1000) / 10)  # fmt: skip

    tally = RecordTally()
    for r in records(0, 60_000):
        tally.submit(r)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for r in records(60_000, 60_000):
        tally.submit(r)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 500_000, grown  # the latency sample still fills up; keeping every record: 5.8 MB more here
    assert tally.total() == 120_000 and tally.count("CAM-1") == 60_000
    summary = tally.summary("")
    assert (summary["ok"], summary["ng"], summary["not_judged"]) == (40_000, 40_000, 40_000)  # counts stay exact
    assert summary["latency_p50_ms"] == pytest.approx(50.0, abs=1.5)  # latencies 0 .. 99.9 ms, evenly
    assert summary["latency_p95_ms"] == pytest.approx(95.0, abs=1.5)


def test_backend_option_runs_the_station_on_it_and_a_wrong_one_is_one_line(images: Path, tiny_model: Path,
                                                                           capsys) -> None:  # fmt: skip
    code = main(["run", "--source", f"folder:{images}", "--model", str(tiny_model), "--frames", "3",
                 "--device", "cpu", "--backend", "onnxruntime"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "backend onnxruntime" in err and json.loads(out)["ok"] + json.loads(out)["ng"] >= 3
    code = main(["run", "--source", f"folder:{images}", "--model", str(tiny_model), "--frames", "3",
                 "--backend", "torch", "--precision", "int8"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code != 0 and err.strip().count("\n") == 0 and "torch runs fp32" in err
