"""One verdict per part from every camera of the station (triggered modes).

A trigger takes a frame from every camera, and each camera's pipeline ends it in exactly one record.
:class:`PartAggregator` is an output of every camera: it gathers the records of a part and, once every camera's
record is in, makes the part's :class:`~app.pipeline.record.PartRecord` (NG when any camera says NG, else
NOT_JUDGED when any could not judge, else OK) and hands it to every output that has ``submit_part``. A camera
whose record does not come within ``timeout_s`` is put in the part as NOT_JUDGED (:data:`NO_RECORD`): a part is
never lost in silence. Parts leave in trigger order, as a reject gate's shift register expects them.

Software triggers pair by their number. Hardware triggers (every frame a triggered camera sends is a part)
pair by order: the n-th frame of every camera is part n; a camera missing from a part that timed out (lost
while the others went on) continues with the next part, and a record that comes after its part left is
reported, not paired with the wrong part. In free run each camera is judged on its own and there are no parts.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.pipeline.record import InspectionRecord, PartRecord, part_verdict
from app.sources.base import Trigger
from app.station.modes import AcquisitionMode
from draem_core.verdict import NG, NO_RECORD, NOT_JUDGED

Outputs = Callable[[], Sequence[object]]  # the outputs parts go to (those with ``submit_part``)
Report = Callable[[str, object], None]
LATENCY_WINDOW = 1024  # part latencies kept for the percentiles


@dataclass
class _Part:
    """A part waiting for its cameras' records."""

    key: tuple[str, int]  # ("sw", trigger number) or ("hw", position in the hardware-trigger order)
    since: float  # time.monotonic() of its trigger
    cameras: tuple[str, ...]  # the cameras whose records it waits for, in station order
    deadline: float  # time.monotonic() after which a missing record is NOT_JUDGED
    trigger: int = 0  # the trigger's number (0: a hardware trigger the station did not issue)
    part_id: str = ""  # the part id given with the trigger
    records: dict[str, InspectionRecord] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.records) == len(self.cameras)


@dataclass(frozen=True)
class PartCounts:
    """Parts judged since the last reset."""

    parts: int  # parts with a verdict
    ng: int  # parts NG
    not_judged: int  # parts NOT_JUDGED

    @property
    def ok(self) -> int:
        return self.parts - self.ng - self.not_judged


class PartAggregator:
    """Collects every camera's record of a trigger into one part verdict (thread-safe; ``submit`` never blocks).

    Args:
        timeout_s: Longest wait for a camera's record after the trigger; then it is NOT_JUDGED in the part.
        outputs: Returns the outputs of the station now; those with ``submit_part(part)`` receive every part.
        on_error: The station's error sink ``(where, exception or text)``.
    """

    label = "parts"

    def __init__(self, *, timeout_s: float, outputs: Outputs, on_error: Report | None = None) -> None:
        self.timeout_s = timeout_s
        self._outputs, self._on_error = outputs, on_error
        self._cond = threading.Condition()
        self._emitting = threading.Lock()  # one thread hands parts out at a time: they leave in order
        self._mode = AcquisitionMode.FREE_RUN
        self._cameras: tuple[str, ...] = ()
        self._open: dict[tuple[str, int], _Part] = {}  # in trigger order
        self._order: dict[str, int] = {}  # hardware: the last position each camera's records took
        self._done = {"sw": 0, "hw": 0}  # the highest part number that left, per kind
        self._latest: PartRecord | None = None
        self._counts = collections.Counter()
        self._latency: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="part-verdicts", daemon=True)
        self._thread.start()

    # --- what the station tells it -----------------------------------------------------------------

    def configure(self, mode: AcquisitionMode | str, cameras: Sequence[str]) -> None:
        """The acquisition mode and the cameras (their record names, in station order) of parts from now on;
        parts already waiting keep the cameras they had."""
        with self._cond:
            self._mode, self._cameras = AcquisitionMode(mode), tuple(cameras)
            taken = [self._done["hw"], *(p.key[1] for p in self._open.values() if p.key[0] == "hw")]
            self._order = dict.fromkeys(self._cameras, max(taken))  # hardware parts from now on come after those

    def start(self, trigger: Trigger) -> None:
        """A software trigger was issued to every camera: its part waits for their records."""
        with self._cond:
            if self._mode != AcquisitionMode.SOFTWARE or not self._cameras or trigger.number < 1:
                return
            key = ("sw", trigger.number)
            self._open[key] = _Part(key, trigger.time, self._cameras, trigger.time + self.timeout_s,
                                    trigger.number, trigger.part_id)  # fmt: skip
            self._cond.notify_all()

    # --- the output protocol -----------------------------------------------------------------------

    def submit(self, record: InspectionRecord) -> None:
        """A camera's record (any worker thread): put it in its part; parts that are complete leave."""
        with self._emitting:
            with self._cond:
                part = self._part_for(record)
                if part is None:
                    return
                part.records[record.camera] = record
                if record.trigger and not part.trigger:  # a hardware part the station announced
                    part.trigger, part.part_id = record.trigger, record.part_id
                ready = self._pop_ready(time.monotonic())
            self._emit(ready)

    def close(self, timeout: float = 2.0) -> None:
        """Stop: parts still waiting leave now, their missing records NOT_JUDGED (the station stopped)."""
        with self._emitting:
            with self._cond:
                self._closed = True
                ready = self._pop_ready(float("inf"), why="the station stopped")
                self._cond.notify_all()
            self._emit(ready)
        self._thread.join(timeout)

    # --- what the view and the report read ---------------------------------------------------------

    def latest(self) -> PartRecord | None:
        """The newest part verdict (the same object until a new part leaves)."""
        return self._latest

    def counts(self) -> PartCounts:
        with self._cond:
            c = self._counts
            return PartCounts(c["parts"], c[NG], c[NOT_JUDGED])

    def summary(self) -> dict:
        """ok / ng / not_judged parts and the trigger-to-part-verdict latency percentiles, for the JSON report."""
        counts = self.counts()
        with self._cond:
            latency = np.asarray(self._latency, dtype=np.float64)
        p50, p95 = np.percentile(latency, [50, 95]) if latency.size else (0.0, 0.0)
        return {"ok": counts.ok, "ng": counts.ng, "not_judged": counts.not_judged,
                "latency_p50_ms": round(float(p50), 2), "latency_p95_ms": round(float(p95), 2)}  # fmt: skip

    def reset(self) -> None:
        """Zero the counts and forget the latencies (parts waiting are kept)."""
        with self._cond:
            self._counts.clear()
            self._latency.clear()

    # --- internals ---------------------------------------------------------------------------------

    def _part_for(self, record: InspectionRecord) -> _Part | None:
        """The part a record belongs to (called with the lock held); None: not a part, or it came too late."""
        if self._mode == AcquisitionMode.SOFTWARE and record.trigger >= 1:
            key = ("sw", record.trigger)
        elif self._mode == AcquisitionMode.HARDWARE and record.camera in self._cameras:
            position = self._order.get(record.camera, 0) + 1
            self._order[record.camera] = position
            key = ("hw", position)
        else:
            return None  # free run, a frame no trigger asked for, or a camera of before a reconnect
        part = self._open.get(key)
        if part is None and key[1] <= self._done[key[0]]:
            self._report(f"{record.camera}: its verdict on part {key[1]} came after the part left (after "
                         f"{self.timeout_s:g} s, counted NOT_JUDGED); it is traced but in no part")  # fmt: skip
        elif part is None and key[0] == "hw":
            since = time.monotonic() - record.latency_ms / 1e3
            part = self._open[key] = _Part(key, since, self._cameras, since + self.timeout_s)
            self._cond.notify_all()  # the deadline thread may be waiting without a deadline
        return part if part is not None and record.camera in part.cameras else None

    def _pop_ready(self, now: float, why: str = "") -> list[tuple[PartRecord, float]]:
        """Take the parts that may leave (in order: complete, or past their deadline) with their latency."""
        ready = []
        while self._open:
            key, part = next(iter(self._open.items()))
            if not part.complete and now < part.deadline:
                break
            del self._open[key]
            self._done[key[0]] = max(self._done[key[0]], key[1])
            if key[0] == "hw":  # a camera lost meanwhile goes on with the next part
                for camera in set(part.cameras) - set(part.records):
                    self._order[camera] = max(self._order.get(camera, 0), key[1])
            reason = f"{NO_RECORD}: {why or f'none within {self.timeout_s:g} s of the trigger'}"
            ready.append((self._finish(part, reason), (min(now, time.monotonic()) - part.since) * 1e3))
        return ready

    def _finish(self, part: _Part, reason: str) -> PartRecord:
        records = tuple(part.records.get(c) or _missing(part, c, reason) for c in part.cameras)
        recipe = next((r.recipe for r in records if r.recipe), "")
        return PartRecord(max(r.time for r in records), part.trigger, part.part_id,
                          part_verdict([r.verdict for r in records]), recipe, records)  # fmt: skip

    def _emit(self, ready: list[tuple[PartRecord, float]]) -> None:
        for part, latency_ms in ready:
            with self._cond:
                self._latest = part
                self._counts.update(("parts", part.verdict))
                self._latency.append(latency_ms)
            for output in self._outputs():
                submit = getattr(output, "submit_part", None)
                if callable(submit):
                    try:
                        submit(part)
                    except Exception as exc:  # noqa: BLE001 - a failing output must not stop the others
                        self._report(exc, getattr(output, "label", type(output).__name__))

    def _run(self) -> None:
        """Let parts whose cameras are late leave at their deadline."""
        while True:
            with self._cond:
                if self._closed:
                    return
                front = next(iter(self._open.values()), None)
                self._cond.wait(max(0.0, front.deadline - time.monotonic()) + 0.001 if front else None)
            try:
                with self._emitting:
                    with self._cond:
                        ready = self._pop_ready(time.monotonic())
                    self._emit(ready)
            except Exception as exc:  # noqa: BLE001 - this thread never dies
                self._report(exc)

    def _report(self, error: object, where: str = "parts") -> None:
        if self._on_error is not None:
            self._on_error(where, error)


def _missing(part: _Part, camera: str, reason: str) -> InspectionRecord:
    """The record of a camera that gave none for ``part``: NOT_JUDGED, a reject."""
    latency_ms = max(0.0, time.monotonic() - part.since) * 1e3
    return InspectionRecord(time=time.time(), frame_id=0, camera=camera, model_name="", model_version="", score=None,
                            normalized=None, threshold=float("nan"), verdict=NOT_JUDGED, roi=None,
                            latency_ms=latency_ms, reason=reason, trigger=part.trigger, part_id=part.part_id)  # fmt: skip
