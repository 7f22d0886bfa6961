"""Helpers of the station tests: real sources and models with a little instrumentation, and the usual steps
(a station with a tally of its records, connect, triggered mode). Imported by name: this folder is on sys.path
under pytest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from app.sources.folder import FolderSource, FolderSourceConfig
from app.sources.slot import FrameSlot
from app.state import AppState
from app.station import AcquisitionMode, Station, ThreadJobs
from app.station.headless import RecordTally
from draem_core.inspector import Inspector

TIMEOUT = 60.0


def wait_until(condition, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


class LoggingSlot(FrameSlot):
    """A real slot that also notes every frame put in (id -> arrival time), to check which frame a trigger got."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.arrivals: dict[int, float] = {}

    def put(self, frame) -> None:
        self.arrivals[frame.frame_id] = frame.timestamp
        super().put(frame)


class PulsingFolder(FolderSource):
    """A real folder source with a digital output the test can read (pulses are counted, nothing else faked)."""

    def __init__(self, config: FolderSourceConfig) -> None:
        super().__init__(config)
        self.slot = LoggingSlot()
        self.pulses = 0

    def pulse_output(self, line: str, duration_s: float, user_output: str = "UserOutput1") -> None:
        self.pulses += 1


class SlowInspector(Inspector):
    """A real model that takes at least ``delay`` seconds per frame (a busy line PC), to provoke queue overruns."""

    delay = 0.05

    def inspect(self, frame, roi=None):
        time.sleep(self.delay)
        return super().inspect(frame, roi)


def make_station(tmp_path: Path, sources: list | Callable, **kwargs) -> tuple[Station, ThreadJobs, RecordTally, list]:
    """A station whose sources are ``sources`` in order (or made by the factory ``sources``), with a tally."""
    errors: list = []
    jobs = ThreadJobs()
    it = iter(sources) if isinstance(sources, list) else None
    factory = (lambda spec: next(it)) if it is not None else sources
    station = Station(data_dir=tmp_path / "data", run=jobs, source_factory=factory,
                      on_error=lambda where, error: errors.append((where, str(error))), **kwargs)  # fmt: skip
    tally = RecordTally(keep=10_000)
    station.add_output(tally)
    return station, jobs, tally, errors


def connect(station: Station, jobs: ThreadJobs, model: Path | None, specs: list[str]) -> None:
    if model is not None:
        station.load_model(model)
        assert jobs.wait_idle(TIMEOUT)
    station.connect_source(specs)
    wait_until(lambda: station.state in (AppState.LIVE, AppState.INSPECTING, AppState.ERROR))
    assert station.state != AppState.ERROR, station.status().message


def trigger_mode(station: Station, jobs: ThreadJobs) -> None:
    station.set_mode(AcquisitionMode.SOFTWARE)
    assert jobs.wait_idle(TIMEOUT)
    wait_until(lambda: all(c.source.slot.triggered for c in station.cameras))
