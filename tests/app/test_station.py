"""The Qt-free station and its verdict contract: every frame it judges and every trigger ends in one record."""

from __future__ import annotations

import dataclasses
import socket
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from station_helpers import (
    TIMEOUT,
    PulsingFolder,
    SlowInspector,
    connect,
    make_station,
    trigger_mode,
    wait_until,
)

from app.paths import bundled_model
from app.pipeline.record import InspectionRecord
from app.reject import RejectConfig
from app.sources.folder import FolderSourceConfig
from app.station import StationConfig
from draem_core.imageio import write_image_atomic
from draem_core.inspector import Inspector
from draem_core.modelfile import load_model
from draem_core.verdict import NOT_JUDGED, judge


def test_triggers_faster_than_the_model_each_get_their_own_next_frame(tmp_path: Path, images: Path,
                                                                      tiny_model: Path) -> None:  # fmt: skip
    source = PulsingFolder(FolderSourceConfig(str(images), fps=400.0))
    station, jobs, tally, _ = make_station(tmp_path, [source], config=StationConfig(device="cpu", queue_size=256))
    connect(station, jobs, tiny_model, ["folder"])
    wait_until(lambda: station.stats().inspected >= 10)
    rate = max(station.stats().inspected_fps, 1.0)  # what the model keeps up with in free run
    trigger_mode(station, jobs)
    tally.reset(keep=10_000)
    triggers = []
    for i in range(200):
        triggers.append(station.trigger(f"part-{i}"))
        time.sleep(1.0 / (2 * rate))  # twice the inspection rate
    wait_until(lambda: tally.total() >= 200)
    time.sleep(0.3)
    station.shutdown()
    records = [r for r in tally.kept if r.trigger]
    assert len(records) == 200 and [r.trigger for r in records] == list(range(1, 201))  # one each, in order
    assert all(r.verdict in ("OK", "NG") for r in records)
    assert [r.part_id for r in records] == [t.part_id for t in triggers]
    ids = [r.frame_id for r in records]
    assert ids == sorted(set(ids))  # every trigger its own frame
    arrivals = source.slot.arrivals
    previous = 0
    for trigger, record in zip(triggers, records, strict=True):
        assert arrivals[record.frame_id] >= trigger.time  # a frame after the trigger …
        earlier = [i for i, t in arrivals.items() if previous < i < record.frame_id and t >= trigger.time]
        assert not earlier, f"trigger {trigger.number} skipped frames {earlier}"  # … the first one free
        previous = record.frame_id


def test_an_overrun_queue_rejects_parts_as_not_judged_never_silently(tmp_path: Path, images: Path,
                                                                     tiny_model: Path) -> None:  # fmt: skip
    model, meta = load_model(tiny_model)
    source = PulsingFolder(FolderSourceConfig(str(images), fps=400.0))
    station, jobs, tally, _ = make_station(tmp_path, [source], config=StationConfig(device="cpu", queue_size=2),
                                           reject=RejectConfig(pulse_enabled=True, pulse_s=0.0))  # fmt: skip
    connect(station, jobs, None, ["folder"])
    station.cameras[0].pipeline.set_inspector(SlowInspector(model, meta, "cpu"))
    trigger_mode(station, jobs)
    tally.reset(keep=10_000)
    for i in range(30):
        station.trigger(str(i))  # a burst: far more than two frames' worth of model time
    wait_until(lambda: tally.total() >= 30)
    time.sleep(0.3)
    not_judged = station.stats().not_judged
    station.shutdown()
    records = [r for r in tally.kept if r.trigger]
    assert sorted(r.trigger for r in records) == list(range(1, 31))
    overrun = [r for r in records if r.verdict == NOT_JUDGED]
    assert overrun and all(r.reason.startswith("queue overrun") and r.score is None for r in overrun)
    assert source.pulses >= len(overrun) + sum(r.verdict == "NG" for r in records)  # every reject pulsed
    assert source.slot.counters().overruns == len(overrun) == not_judged


def test_a_nan_model_is_never_ok(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    assert judge(float("nan"), 0.5) == NOT_JUDGED and judge(0.7, float("nan")) == NOT_JUDGED
    model, meta = load_model(tiny_model)
    with torch.no_grad():
        next(model.discriminative.parameters()).fill_(float("nan"))  # weights that give NaN on every input
    source = PulsingFolder(FolderSourceConfig(str(images), fps=30.0))
    station, jobs, tally, _ = make_station(tmp_path, [source], config=StationConfig(device="cpu"),
                                           reject=RejectConfig(pulse_enabled=True, pulse_s=0.0))  # fmt: skip
    connect(station, jobs, None, ["folder"])
    station.cameras[0].pipeline.set_inspector(Inspector(model, meta, "cpu"))
    wait_until(lambda: tally.total() >= 5)
    station.shutdown()
    assert {r.verdict for r in tally.kept} == {NOT_JUDGED}
    assert all(r.reason.startswith("non-finite score") and r.score is None for r in tally.kept)
    assert source.pulses == len(tally.kept)
    rows = sqlite3.connect(tmp_path / "data" / "trace.sqlite").execute(
        "SELECT verdict, score, reason FROM inspections").fetchall()  # fmt: skip
    assert len(rows) == len(tally.kept) and all(v == NOT_JUDGED and s is None and r for v, s, r in rows)


def test_a_frame_that_cannot_be_aligned_is_not_judged_and_pulses(tmp_path: Path) -> None:
    folder = tmp_path / "empty-belt"
    for i in range(2):
        write_image_atomic(folder / f"{i}.png", np.full((480, 640, 3), 90 + i, np.uint8))  # no part in view
    source = PulsingFolder(FolderSourceConfig(str(folder), fps=10.0))
    station, jobs, tally, _ = make_station(tmp_path, [source], config=StationConfig(device="cpu"),
                                           reject=RejectConfig(pulse_enabled=True, pulse_s=0.0))  # fmt: skip
    connect(station, jobs, bundled_model(), ["folder"])  # the bundled demo model aligns parts
    wait_until(lambda: tally.total() >= 3)
    station.shutdown()
    assert all(r.verdict == NOT_JUDGED and r.reason.startswith("alignment failed") for r in tally.kept)
    assert source.pulses == len(tally.kept) and station.ng_store.saved >= 1  # rejected, and its frame kept


def test_a_trigger_whose_frame_never_comes_is_not_judged(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    source = PulsingFolder(FolderSourceConfig(str(images), fps=50.0, loop=False))  # ends after 4 frames
    station, jobs, tally, _ = make_station(tmp_path, [source],
                                           config=StationConfig(device="cpu", trigger_timeout_s=0.2))  # fmt: skip
    connect(station, jobs, tiny_model, ["folder"])
    trigger_mode(station, jobs)
    wait_until(lambda: source.stats().state.value == "open")  # the folder has ended
    tally.reset(keep=10)
    trigger = station.trigger("P-77")
    wait_until(lambda: tally.total() >= 1)
    station.shutdown()
    (record,) = tally.kept
    assert (record.trigger, record.part_id, record.verdict) == (trigger.number, "P-77", NOT_JUDGED)
    assert record.reason.startswith("no frame after the trigger") and record.frame_id == 0


def test_a_taken_stream_port_never_switches_off_the_pulse(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    blocker = socket.create_server(("127.0.0.1", 0))
    port = blocker.getsockname()[1]
    source = PulsingFolder(FolderSourceConfig(str(images), fps=20.0))
    config = RejectConfig(pulse_enabled=True, pulse_s=0.0, tcp_enabled=True, port=port)
    station, jobs, tally, errors = make_station(tmp_path, [source], config=StationConfig(device="cpu"), reject=config)
    connect(station, jobs, tiny_model, ["folder"])
    station.set_threshold(1e-6)  # every part NG
    wait_until(lambda: source.pulses >= 3)
    assert station.stream is None and any(w == "result stream" and str(port) in e for w, e in errors)
    blocker.close()
    station.set_reject_config(config)  # the engineer applies again once the port is free
    assert jobs.wait_idle(TIMEOUT)
    assert station.stream is not None and station.stream.server.port == port
    station.set_reject_config(config)  # and again: the old stream is closed before the new one binds
    assert jobs.wait_idle(TIMEOUT)
    assert station.stream is not None and station.stream.server.port == port
    before = source.pulses
    wait_until(lambda: source.pulses > before + 2)
    station.shutdown()


def test_a_stream_beyond_loopback_without_a_token_is_refused_and_the_pulse_goes_on(tmp_path: Path, images: Path,
                                                                                  tiny_model: Path) -> None:  # fmt: skip
    source = PulsingFolder(FolderSourceConfig(str(images), fps=20.0))
    config = RejectConfig(pulse_enabled=True, pulse_s=0.0, tcp_enabled=True, host="0.0.0.0", port=0)
    station, jobs, tally, errors = make_station(tmp_path, [source], config=StationConfig(device="cpu"), reject=config)
    connect(station, jobs, tiny_model, ["folder"])
    station.set_threshold(1e-6)  # every part NG
    wait_until(lambda: source.pulses >= 3)
    assert station.stream is None
    assert [e for w, e in errors if w == "result stream"] == [
        "cannot listen on 0.0.0.0:0: other computers can reach this address: set a token in the reject settings "
        "(clients send it as their first line), or listen on 127.0.0.1"]
    station.set_reject_config(dataclasses.replace(config, token="line-3"))
    assert jobs.wait_idle(TIMEOUT)
    assert station.stream is not None and station.stream.server.host == "0.0.0.0"
    before = source.pulses
    wait_until(lambda: source.pulses > before + 2)
    station.shutdown()


def test_a_broken_model_keeps_the_previous_one(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    failures: list[tuple[Path, str]] = []
    source = PulsingFolder(FolderSourceConfig(str(images), fps=20.0))
    station, jobs, tally, _ = make_station(tmp_path, [source], config=StationConfig(device="cpu"),
                                           on_model_failed=lambda p, why: failures.append((p, why)))  # fmt: skip
    connect(station, jobs, tiny_model, ["folder"])
    before = station.inspector
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(tiny_model.read_bytes()[:500])
    station.load_model(corrupt)
    assert jobs.wait_idle(TIMEOUT)
    assert failures and failures[0][0] == corrupt and str(corrupt) in failures[0][1]
    assert station.inspector is before and station.model_path == tiny_model
    done = tally.total()
    wait_until(lambda: tally.total() > done)  # still judging with the previous model
    station.shutdown()


def test_records_carry_the_trigger_part_recipe_and_version(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    from draem_core.version import __version__

    source = PulsingFolder(FolderSourceConfig(str(images), fps=50.0))
    station, jobs, tally, _ = make_station(tmp_path, [source], config=StationConfig(device="cpu"))
    connect(station, jobs, tiny_model, ["folder"])
    station.set_recipe("flange-A")
    trigger_mode(station, jobs)
    tally.reset(keep=10)
    station.trigger("SN-1")
    wait_until(lambda: any(r.trigger for r in tally.kept))
    station.shutdown()
    record: InspectionRecord = next(r for r in tally.kept if r.trigger)
    assert (record.part_id, record.recipe, record.software_version) == ("SN-1", "flange-A", __version__)
    assert record.camera == source.name and record.image_source.endswith(".png")


def test_a_backend_switch_reloads_every_model_and_a_failing_one_keeps_them(tmp_path: Path, images: Path,
                                                                           tiny_model: Path) -> None:  # fmt: skip
    from draem_core.backends import BackendError

    failures: list[tuple[Path, str]] = []
    sources = [PulsingFolder(FolderSourceConfig(str(images), fps=20.0)) for _ in range(2)]
    station, jobs, tally, _ = make_station(tmp_path, sources, config=StationConfig(device="cpu"),
                                           on_model_failed=lambda p, why: failures.append((p, why)))  # fmt: skip
    connect(station, jobs, tiny_model, ["a", "b"])
    station.set_threshold(0.3, camera=1)
    station.set_backend("onnxruntime")
    assert jobs.wait_idle(TIMEOUT) and not failures
    running = [c.pipeline.next_inspector for c in station.cameras]
    assert [i.backend.spec.name for i in running] == ["onnxruntime", "onnxruntime"]
    assert station.inspector is running[0] and running[0] is not running[1]  # a worker thread each
    assert station.threshold_of(1) == 0.3 and station.model_path == tiny_model  # what the operator set stays
    done = tally.total()
    wait_until(lambda: tally.total() > done + 4)  # judging on the new backend
    assert {r.verdict for r in tally.kept[-4:]} <= {"OK", "NG"}

    with pytest.raises(BackendError, match="unknown backend"):
        station.set_backend("tensorrt")
    station.set_backend("openvino:int8")  # needs good frames to calibrate on: refused, nothing changes
    assert jobs.wait_idle(TIMEOUT)
    assert failures and failures[0][0] == tiny_model and "still using" in failures[0][1]
    assert station.config.backend == "onnxruntime" and station.inspector is running[0]

    station.set_backend("auto", calibration=images)  # good images for bf16/int8, read in the loading job
    assert jobs.wait_idle(TIMEOUT) and len(failures) == 1
    assert station.config.backend_calibration == images and len(station._good_cache[1]) == 4
    assert station.inspector is not running[0]  # loaded again
    station.shutdown()
