"""Driving a :class:`~app.station.Station` without a window: ``draem-inspect run``, the self-test, soak tests.

:func:`open_station` connects sources and loads a model and returns once the station inspects (or raises
one clear error); :class:`RecordTally` is an output that counts every record per camera; :func:`run_station`
runs free or triggered for a number of verdicts or seconds and returns the JSON report.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.pipeline.record import InspectionRecord
from app.reject import RejectConfig
from app.state import AppState
from app.station.jobs import ThreadJobs
from app.station.modes import AcquisitionMode
from app.station.station import SourceFactory, Station, StationConfig, StationError
from draem_core.verdict import NG, NOT_JUDGED, OK

Log = Callable[[str], None]


@dataclass(frozen=True)
class RunPlan:
    """What a headless run does."""

    frames: int | None = None  # stop after this many verdicts per camera (triggered: this many triggers)
    seconds: float | None = None  # stop after this long (triggered: trigger for this long); None and no frames: until stopped
    mode: AcquisitionMode = AcquisitionMode.FREE_RUN  # free run, or a part per software/hardware trigger
    rate_hz: float = 2.0  # software triggers per second
    settle_s: float = 10.0  # after the last trigger, longest wait for its verdicts


LATENCY_SAMPLE = 20_000  # latencies kept per camera for the report's percentiles (every one in shorter runs)


@dataclass
class _Counts:
    """Verdict counts and a uniform sample of the latencies of one camera (or of all): bounded memory however long
    the run (a soak keeping every record grew by 6-7 MB an hour)."""

    verdicts: dict[str, int] = field(default_factory=dict)
    n: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, verdict: str, latency_ms: float, rng: random.Random) -> None:
        self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
        self.n += 1
        if len(self.latencies) < LATENCY_SAMPLE:
            self.latencies.append(latency_ms)
        elif (j := rng.randrange(self.n)) < LATENCY_SAMPLE:  # reservoir sampling: each latency equally likely kept
            self.latencies[j] = latency_ms


class RecordTally:
    """An output that counts every record's verdict per camera and samples latencies (thread-safe, never blocks)."""

    label = "report"

    def __init__(self, keep: int = 0) -> None:
        self.triggered_only = False  # count only records of the station's own triggers (a software-triggered run)
        self._lock = threading.Lock()
        self._by_camera: dict[str, _Counts] = {}
        self._all = _Counts()
        self._rng = random.Random(0)
        self.kept: list[InspectionRecord] = []  # the first ``keep`` records, for checks
        self._keep = keep
        self._changed = threading.Condition(self._lock)

    def submit(self, record: InspectionRecord) -> None:
        if self.triggered_only and record.trigger < 1:
            return  # a free-run frame still in the model when the run switched to triggers
        with self._lock:
            for counts in (self._by_camera.setdefault(record.camera, _Counts()), self._all):
                counts.add(record.verdict, record.latency_ms, self._rng)
            if len(self.kept) < self._keep:
                self.kept.append(record)
            self._changed.notify_all()

    def reset(self, keep: int | None = None) -> None:
        """Forget the counts; with ``keep``, also the kept records, keeping the next ``keep`` ones."""
        with self._lock:
            self._by_camera.clear()
            self._all = _Counts()
            if keep is not None:
                self.kept, self._keep = [], keep

    def count(self, camera: str) -> int:
        """Records so far of one camera."""
        with self._lock:
            counts = self._by_camera.get(camera)
            return counts.n if counts is not None else 0

    def total(self) -> int:
        with self._lock:
            return self._all.n

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition()`` (checked on every record) holds; True if it did within ``timeout``."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._changed:
                self._changed.wait(min(left, 0.1))
        return True

    def summary(self, camera: str) -> dict:
        """ok / ng / not_judged counts and latency percentiles of one camera ("" = all cameras); the percentiles are
        exact up to :data:`LATENCY_SAMPLE` records, then estimated from a uniform sample of that many."""
        with self._lock:
            counts = self._all if camera == "" else self._by_camera.get(camera, _Counts())
            verdicts = dict(counts.verdicts)
            latency = np.asarray(counts.latencies, dtype=np.float64)
        p50, p95 = np.percentile(latency, [50, 95]) if latency.size else (0.0, 0.0)
        return {"ok": verdicts.get(OK, 0), "ng": verdicts.get(NG, 0), "not_judged": verdicts.get(NOT_JUDGED, 0),
                "latency_p50_ms": round(float(p50), 2), "latency_p95_ms": round(float(p95), 2)}  # fmt: skip


@dataclass
class Headless:
    """A station opened for headless use, with its job runner and the tally of its records."""

    station: Station
    jobs: ThreadJobs
    tally: RecordTally
    errors: list[str] = field(default_factory=list)

    def close(self, timeout: float = 5.0) -> None:
        """Shut the station down (trace flushed) and the job runner."""
        self.jobs.wait_idle(timeout)
        self.station.shutdown(timeout)
        self.jobs.shutdown()


def open_station(specs: Sequence[str], models: Sequence[Path] | Path | None, data_dir: Path, *, device: str = "auto",
                 config: StationConfig | None = None, reject: RejectConfig | None = None,
                 source_factory: SourceFactory | None = None, timeout_s: float = 60.0, keep: int = 0,
                 log: Log | None = None) -> Headless:  # fmt: skip
    """Load the models (one for every camera, or one per camera; none: frames only), connect ``specs`` and
    return once the station runs.

    Raises:
        StationError: a model cannot be loaded, a source cannot be opened, or it took longer than ``timeout_s``.
    """
    models = [models] if isinstance(models, Path) else list(models or [])
    if len(models) not in (0, 1, len(specs)):
        msg = f"give one model for every source or one per source: {len(models)} models for {len(specs)} sources"
        raise StationError(msg)
    errors: list[str] = []

    def on_error(where: str, error: object) -> None:
        line = f"{where}: {error}"
        errors.append(line)
        if log is not None:
            log(line)

    jobs = ThreadJobs()
    station = Station(data_dir=data_dir, run=jobs, source_factory=source_factory, reject=reject,
                      config=config or StationConfig(device=device), on_error=on_error)  # fmt: skip
    tally = RecordTally(keep)
    station.add_output(tally)
    headless = Headless(station, jobs, tally, errors)
    try:
        for index, model in enumerate(models):
            station.load_model(model, camera=index if len(models) > 1 else None)
            jobs.wait_idle(timeout_s)
            if errors:
                raise StationError(errors[-1])
        if models and station.inspector is None:
            raise StationError(f"model {models[0]}: not loaded within {timeout_s:g} s")
        station.connect_source(list(specs))
        if not wait_until(lambda: station.state != AppState.CONNECTING, timeout_s):
            raise StationError(f"{', '.join(specs)}: not open within {timeout_s:g} s")
        if station.state == AppState.ERROR:
            raise StationError(station.status().message)
    except BaseException:
        headless.close(2.0)
        raise
    return headless


def run_station(headless: Headless, plan: RunPlan, stop: threading.Event) -> dict:
    """Run free or triggered until the plan's frames/seconds are done or ``stop`` is set; the JSON report."""
    station, tally = headless.station, headless.tally
    triggers = 0
    if plan.mode != AcquisitionMode.FREE_RUN:
        station.set_mode(plan.mode)
        headless.jobs.wait_idle(30.0)
    station.reset_counters()
    tally.triggered_only = plan.mode == AcquisitionMode.SOFTWARE
    tally.reset()
    started = time.monotonic()
    if plan.mode == AcquisitionMode.SOFTWARE:
        triggers = _trigger_loop(station, plan, stop, started)
        ids = [c.pipeline.camera_id for c in station.cameras]
        tally.wait(lambda: stop.is_set() or min(tally.count(i) for i in ids) >= triggers, plan.settle_s)
        wait_until(lambda: stop.is_set() or station.parts.counts().parts >= triggers, plan.settle_s)
    else:
        _free_loop(station, tally, plan, stop, started)
    elapsed = max(time.monotonic() - started, 1e-9)
    station.poll()
    return report(station, tally, triggers, elapsed)


def _trigger_loop(station: Station, plan: RunPlan, stop: threading.Event, started: float) -> int:
    count, period = 0, 1.0 / plan.rate_hz
    while not stop.is_set():
        if plan.frames is not None and count >= plan.frames:
            break
        if plan.seconds is not None and time.monotonic() - started >= plan.seconds:
            break
        station.trigger(f"part-{count + 1}")
        count += 1
        stop.wait(max(0.0, started + count * period - time.monotonic()))
    return count


def _free_loop(station: Station, tally: RecordTally, plan: RunPlan, stop: threading.Event, started: float) -> None:
    ids = [c.pipeline.camera_id for c in station.cameras]
    while not stop.is_set():
        if plan.frames is not None and min(tally.count(i) for i in ids) >= plan.frames:
            break
        if plan.seconds is not None and time.monotonic() - started >= plan.seconds:
            break
        station.poll()
        stop.wait(0.05)


def report(station: Station, tally: RecordTally, triggers: int, elapsed_s: float) -> dict:
    """The run's JSON report: totals, then one entry per camera with the same keys; in the triggered modes also
    ``parts``: each part's verdict across the cameras (ok / ng / not_judged, trigger-to-verdict latency)."""
    cameras = []
    for camera, stats in zip(station.cameras, station.camera_stats(), strict=True):
        summary = tally.summary(camera.pipeline.camera_id)
        entry = _entry(summary, triggers, stats.dropped, stats.overruns, elapsed_s)
        cameras.append({"camera": camera.pipeline.camera_id, "spec": camera.spec, **entry})
    total = _entry(tally.summary(""), triggers, sum(c["dropped"] for c in cameras),
                   sum(c["overruns"] for c in cameras), elapsed_s)  # fmt: skip
    total["fps"] = round(total["fps"] / max(1, len(cameras)), 2)  # per camera, like each entry
    doc = {**total, "seconds": round(elapsed_s, 2), "mode": station.mode.value, "cameras": cameras}
    if station.mode != AcquisitionMode.FREE_RUN:
        doc["parts"] = station.parts.summary()
    return doc


def _entry(summary: dict, triggers: int, dropped: int, overruns: int, elapsed_s: float) -> dict:
    verdicts = summary["ok"] + summary["ng"] + summary["not_judged"]
    return {"ok": summary["ok"], "ng": summary["ng"], "not_judged": summary["not_judged"], "triggers": triggers,
            "dropped": dropped, "overruns": overruns, "fps": round(verdicts / elapsed_s, 2),
            "latency_p50_ms": summary["latency_p50_ms"], "latency_p95_ms": summary["latency_p95_ms"]}  # fmt: skip


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll ``condition`` every 20 ms; True once it holds, False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
