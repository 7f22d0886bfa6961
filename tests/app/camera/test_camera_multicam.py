"""Two and three of the simulator's cameras in one station (real viky.cti, each in its own acquisition process):
one is killed and comes back while the others go on; triggered parts get one verdict from all of them."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from camera_helpers import requires_simulator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/app: the station helpers
from station_helpers import connect, make_station, trigger_mode, wait_until  # noqa: E402

from app.pipeline.record import part_verdict  # noqa: E402
from app.sources.base import SourceState  # noqa: E402
from app.sources.factory import open_source  # noqa: E402
from app.state import AppState  # noqa: E402
from app.station import StationConfig  # noqa: E402
from draem_core.verdict import NOT_JUDGED, OK  # noqa: E402

pytestmark = [pytest.mark.camera, pytest.mark.slow, requires_simulator]
OUTAGE_S = 3.0  # a killed acquisition process is started again after this long


def slow_restarts(spec: str):
    """The simulator's cameras, restarted OUTAGE_S after their process dies (long enough to watch the others)."""
    return open_source(spec, restart_backoff_s=(OUTAGE_S,))


class PartLog:
    """An added output that keeps every part verdict."""

    label = "part log"

    def __init__(self) -> None:
        self.parts = []

    def submit(self, record) -> None:
        pass

    def submit_part(self, part) -> None:
        self.parts.append(part)


def kill_acquisition(station, index: int) -> None:
    pid = station.cameras[index].source.stats().extra["pid"]
    os.kill(pid, signal.SIGKILL)


def test_a_killed_camera_is_lost_in_its_own_tile_while_the_other_goes_on(tmp_path: Path, tiny_model: Path) -> None:
    states = []
    station, jobs, tally, _ = make_station(tmp_path, slow_restarts, config=StationConfig(device="cpu"),
                                           on_state=lambda status: states.append(status.state))  # fmt: skip
    connect(station, jobs, tiny_model, ["sim:0", "sim:1"])
    try:
        wait_until(lambda: tally.count("0") >= 3 and tally.count("1") >= 3)
        assert station.readiness() == (True, "")
        kill_acquisition(station, 1)
        wait_until(lambda: station.camera_health()[1].lost, 15)
        station.poll()
        before, lost_since = tally.count("0"), time.monotonic()
        wait_until(lambda: tally.count("0") >= before + 5, 30)  # camera 0 goes on judging meanwhile
        assert station.camera_health()[1].state == SourceState.RECONNECTING, "back too soon to see the others go on"
        station.poll()
        assert station.state == AppState.INSPECTING  # not RECONNECTING: one camera of two is lost
        assert AppState.RECONNECTING not in states  # not even for a moment
        ready, why = station.readiness()
        assert not ready and why.startswith("1 is reconnecting")
        assert "1: connection lost" in station.banner()[0] and station.camera_health()[0].state == SourceState.LIVE
        wait_until(lambda: station.camera_health()[1].state == SourceState.LIVE, 60)
        assert time.monotonic() - lost_since < 60
        back = tally.count("1")
        wait_until(lambda: tally.count("1") >= back + 3, 30)  # and it is judged again
        station.poll()
        assert station.state == AppState.INSPECTING and station.readiness()[0] and station.banner() == ("", "")
    finally:
        station.shutdown()


def test_three_cameras_give_one_verdict_per_part_even_while_one_is_killed(tmp_path: Path, tiny_model: Path) -> None:
    log = PartLog()
    config = StationConfig(device="cpu", trigger_timeout_s=1.0)
    station, jobs, tally, _ = make_station(tmp_path, slow_restarts, config=config)
    station.add_output(log)
    connect(station, jobs, tiny_model, ["sim:0", "sim:1", "sim:2"])
    try:
        trigger_mode(station, jobs)
        time.sleep(0.5)
        station.reset_counters()
        for i in range(12):
            if i == 4:
                kill_acquisition(station, 2)
            station.trigger(f"P-{i}")
            time.sleep(0.3)
        wait_until(lambda: len(log.parts) >= 12, 60)
    finally:
        station.shutdown()
    parts = log.parts
    assert [p.part_id for p in parts] == [f"P-{i}" for i in range(12)]  # every part once, in order
    assert all([r.camera for r in p.cameras] == ["0", "1", "2"] for p in parts)
    assert all(p.verdict == part_verdict([r.verdict for r in p.cameras]) for p in parts)
    unseen = [p for p in parts if p.cameras[2].verdict == NOT_JUDGED]
    assert unseen and all(p.verdict != OK for p in unseen)  # a part camera 2 could not see is never OK
    assert all(p.cameras[0].verdict != NOT_JUDGED for p in parts)  # the others judged every part
