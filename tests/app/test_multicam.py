"""Several cameras in one station: each with its own threshold and region, taking turns on the device, and one
verdict per triggered part from all of them (the pulse, the result stream and the trace carry it)."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest
from station_helpers import TIMEOUT, PulsingFolder, connect, make_station, trigger_mode, wait_until

from app.pipeline.record import InspectionRecord, part_verdict
from app.reject import RejectConfig
from app.sources.base import Trigger
from app.sources.folder import FolderSourceConfig
from app.state import AppState
from app.station import AcquisitionMode, StationConfig
from app.station.part_trace import read_parts
from app.station.parts import PartAggregator
from app.station.setup import CameraSetup, SetupError, StationSetup
from app.station.turns import DeviceTurns
from draem_core.inspector import Inspector
from draem_core.verdict import NG, NO_RECORD, NOT_JUDGED, OK


class CountingInspector(Inspector):
    """A real model that notes how many cameras run a model at this moment (the most seen is kept)."""

    running = 0
    most = 0
    lock = threading.Lock()

    def inspect(self, frame, roi=None):
        cls = CountingInspector
        with cls.lock:
            cls.running += 1
            cls.most = max(cls.most, cls.running)
        try:
            time.sleep(0.01)  # a model long enough for two cameras to overlap if they may
            return super().inspect(frame, roi)
        finally:
            with cls.lock:
                cls.running -= 1


def folders(images: Path, count: int, fps: float = 30.0) -> list[PulsingFolder]:
    return [PulsingFolder(FolderSourceConfig(str(images), fps=fps)) for _ in range(count)]


def record(camera: str, verdict: str, trigger: int = 0, latency_ms: float = 5.0) -> InspectionRecord:
    """A camera's record as a pipeline makes it (the aggregator tests need exact control of what arrives)."""
    score = None if verdict == NOT_JUDGED else (0.9 if verdict == NG else 0.1)
    return InspectionRecord(time.time(), 1, camera, "m", "1", score, score, 0.5, verdict, None, latency_ms,
                            trigger=trigger, part_id=f"P{trigger}" if trigger else "")  # fmt: skip


def test_each_camera_has_its_own_threshold_region_and_a_unique_name(tmp_path: Path, images: Path,
                                                                    tiny_model: Path) -> None:  # fmt: skip
    station, jobs, tally, _ = make_station(tmp_path, folders(images, 2), config=StationConfig(device="cpu"))
    connect(station, jobs, tiny_model, ["folder", "folder"])
    names = [c.pipeline.camera_id for c in station.cameras]
    assert names[1] == f"{names[0]} #2"  # the same folder twice: two cameras in the records, not one
    station.set_threshold(1e-6, camera=1)  # camera 1 rejects everything; camera 0 keeps the calibrated one
    station.set_roi((10, 10, 100, 60), camera=0)
    time.sleep(0.3)  # changes apply between frames
    tally.reset(keep=10_000)
    wait_until(lambda: min(tally.count(n) for n in names) >= 6)
    station.shutdown()
    first, second = ([r for r in tally.kept if r.camera == n] for n in names)
    assert all(r.verdict == NG and r.threshold == pytest.approx(1e-6) for r in second)
    assert all(r.threshold == pytest.approx(station.inspector.calibration.threshold) for r in first)
    assert all(r.roi == (10, 10, 100, 60) for r in first) and all(r.roi is None for r in second)
    assert station.threshold_of(1) == pytest.approx(1e-6) and station.roi == (10, 10, 100, 60)


def test_cameras_take_turns_on_the_device(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    for take_turns, most in ((True, 1), (False, 2)):
        CountingInspector.most = 0
        station, jobs, tally, _ = make_station(tmp_path / str(take_turns), folders(images, 2, fps=200.0),
                                               config=StationConfig(device="cpu", take_turns=take_turns))  # fmt: skip
        connect(station, jobs, None, ["a", "b"])
        for camera in station.cameras:
            camera.pipeline.set_inspector(CountingInspector.from_file(tiny_model, "cpu"))
        names = [c.pipeline.camera_id for c in station.cameras]
        wait_until(lambda: min(tally.count(n) for n in names) >= 20)  # noqa: B023 - waited for here
        station.shutdown()
        counts = [tally.count(n) for n in names]
        assert CountingInspector.most == most, (take_turns, CountingInspector.most)
        if take_turns:
            assert min(counts) >= 0.4 * sum(counts), counts  # neither camera starves the other


def test_turns_are_first_come_first_served() -> None:
    turns, order = DeviceTurns(), []

    def camera(name: str, again: bool = False) -> None:
        for _ in range(2 if again else 1):
            with turns.turn():
                order.append(name)

    with turns.turn():  # the device is busy: A, B and C ask in this order
        threads = []
        for name in "ABC":
            threads.append(threading.Thread(target=camera, args=(name, name == "A")))
            threads[-1].start()
            wait_until(lambda: turns.waiting == len(threads) + 1, 10)  # noqa: B023 - waited for here
    for t in threads:
        t.join(10)
    assert order == ["A", "B", "C", "A"]  # A's second request waits behind B and C, who asked before it


def test_a_triggered_part_gets_one_verdict_from_every_camera(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    sources = folders(images, 3)
    config = RejectConfig(pulse_enabled=True, pulse_s=0.0, tcp_enabled=True, port=0)
    station, jobs, tally, _ = make_station(tmp_path, sources, config=StationConfig(device="cpu"), reject=config)
    connect(station, jobs, tiny_model, ["a", "b", "c"])
    station.set_threshold(1e-6, camera=2)  # camera 2 rejects every part: every part is NG
    trigger_mode(station, jobs)
    time.sleep(0.3)  # free-run lines already on their way are not this client's
    client = socket.create_connection(("127.0.0.1", station.stream.server.port), timeout=TIMEOUT)
    wait_until(lambda: station.stream.server.clients == 1)
    station.reset_counters()
    for i in range(6):
        station.trigger(f"SN-{i}")
        time.sleep(0.1)
    wait_until(lambda: station.parts.counts().parts >= 6)
    lines = read_lines(client, 6)
    names = [c.pipeline.camera_id for c in station.cameras]
    station.shutdown()
    parts = [json.loads(line) for line in lines]
    assert [p["part_id"] for p in parts] == [f"SN-{i}" for i in range(6)] and {p["kind"] for p in parts} == {"part"}
    for part in parts:
        assert [r["camera"] for r in part["cameras"]] == names and {r["trigger"] for r in part["cameras"]} == {
            part["trigger"]}  # fmt: skip
        assert part["verdict"] == part_verdict([r["verdict"] for r in part["cameras"]]) == NG
    assert [s.pulses for s in sources] == [6, 0, 0]  # one pulse per rejected part, on the first camera's line
    traced = list(read_parts(tmp_path / "data" / "trace.sqlite"))
    assert [(t[2], t[3], [c["camera"] for c in t[5]]) for t in traced] == [(f"SN-{i}", NG, names) for i in range(6)]


def read_lines(client: socket.socket, count: int) -> list[str]:
    data = b""
    deadline = time.monotonic() + TIMEOUT
    while data.count(b"\n") < count and time.monotonic() < deadline:
        data += client.recv(65536)
    return data.decode().splitlines()[:count]


def test_a_camera_that_gives_no_record_makes_its_part_not_judged() -> None:
    parts, errors = [], []

    class Output:
        submit_part = parts.append

    aggregator = PartAggregator(timeout_s=0.3, outputs=lambda: [Output()], on_error=lambda w, e: errors.append(str(e)))
    aggregator.configure(AcquisitionMode.SOFTWARE, ["top", "side"])
    for number in (1, 2):
        aggregator.start(Trigger(number, f"P{number}", time.monotonic()))
    aggregator.submit(record("top", OK, 1))
    aggregator.submit(record("top", OK, 2))
    aggregator.submit(record("side", OK, 2))  # part 2 is complete, but leaves only after part 1
    wait_until(lambda: len(parts) == 2, 10)
    assert [p.trigger for p in parts] == [1, 2] and [p.verdict for p in parts] == [NOT_JUDGED, OK]
    missing = parts[0].cameras[1]
    assert missing.camera == "side" and missing.verdict == NOT_JUDGED and missing.reason.startswith(NO_RECORD)
    aggregator.submit(record("side", OK, 1))  # too late: reported, and no second part 1
    time.sleep(0.5)
    aggregator.close()
    assert len(parts) == 2 and any("side" in e and "came after the part left" in e for e in errors)


def test_hardware_triggered_parts_pair_by_order_and_a_lost_camera_catches_up() -> None:
    parts = []

    class Output:
        submit_part = parts.append

    aggregator = PartAggregator(timeout_s=0.3, outputs=lambda: [Output()])
    aggregator.configure(AcquisitionMode.HARDWARE, ["top", "side"])
    aggregator.submit(record("top", OK))
    aggregator.submit(record("side", NG))  # part 1
    aggregator.submit(record("top", OK))  # part 2: the side camera is lost meanwhile
    wait_until(lambda: len(parts) == 2, 10)
    aggregator.submit(record("side", OK))  # it is back: this frame is part 3's, not part 2's
    aggregator.submit(record("top", OK))
    wait_until(lambda: len(parts) == 3, 10)
    aggregator.close()
    assert [p.verdict for p in parts] == [NG, NOT_JUDGED, OK]
    assert parts[1].cameras[1].reason.startswith(NO_RECORD) and aggregator.counts().parts == 3


def test_the_station_setup_round_trips_and_refuses_bad_data(tmp_path: Path, images: Path, tiny_model: Path) -> None:
    setup = StationSetup((CameraSetup("a", threshold=0.3, roi=(1, 2, 30, 40)), CameraSetup("b", str(tiny_model))),
                         str(tiny_model), AcquisitionMode.SOFTWARE.value)  # fmt: skip
    assert StationSetup.from_dict(json.loads(json.dumps(setup.to_dict()))) == setup
    station, jobs, _, _ = make_station(tmp_path, folders(images, 2), config=StationConfig(device="cpu"))
    station.apply_setup(setup)
    wait_until(lambda: station.state == AppState.INSPECTING and jobs.wait_idle(1))
    got = station.setup()
    station.shutdown()
    assert got.specs == ("a", "b") and got.mode == "software" and Path(got.model) == tiny_model
    assert got.cameras[0].threshold == 0.3 and got.cameras[0].roi == (1, 2, 30, 40) and got.cameras[1].roi is None
    for bad, why in (({"cameras": []}, "1 to 4 cameras"), ({"cameras": [{"spec": ""}]}, "camera 1: needs a source"),
                     ({"cameras": [{"spec": "a", "threshold": 2}]}, "threshold 2 is not"),
                     ({"cameras": [{"spec": "a", "roi": [0, 0, -1, 5]}]}, "roi [0, 0, -1, 5]"),
                     ({"cameras": [{"spec": "a"}], "mode": "sometimes"}, "mode 'sometimes'")):  # fmt: skip
        with pytest.raises(SetupError, match=why.replace("[", r"\[")):
            StationSetup.from_dict(bad)
