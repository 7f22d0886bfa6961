"""The inspection pipeline of one camera: a worker thread that judges its frames, Qt-free.

Free run: the worker takes the newest frame (frames that arrive while the model is busy are skipped and
counted). Triggered: the source's slot queues each trigger's frame and the worker judges them in order; a
trigger whose frame was lost or did not fit in the queue is reported by the slot and recorded at once.

Every frame the worker takes to judge, and every trigger, ends in exactly one
:class:`~app.pipeline.record.InspectionRecord` (OK, NG or NOT_JUDGED with the reason), handed to the outputs
(trace, reject pulse, stream …) and, for rejected parts, the NG image store — all non-blocking. The newest
frame + result + record goes into a latest-result slot the view pulls (:meth:`InspectionPipeline.latest`).

Everything the operator changes (model, threshold, ROI, inspecting on/off, outputs) is handed to the worker
and applied between two frames, so a frame is never judged half with the old model and half with the new.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.pipeline.judge import Judgement, judge_frame, make_record, not_judged
from app.pipeline.record import InspectionRecord, LiveResult
from app.pipeline.stats import PipelineStats, StatsAccumulator
from app.sources.base import Frame, FrameSource, SourceStats, Trigger
from draem_core.inspector import InspectionResult, Inspector, Roi
from draem_core.modelfile import ModelMetadata
from draem_core.verdict import NO_MODEL, threshold_in_force

log = logging.getLogger(__name__)

ErrorSink = Callable[[str, BaseException], None]  # (where, exception): the app-level error sink
Turn = Callable[[], contextlib.AbstractContextManager]  # holds the inference device for one model run
STOPPED = "inspection stopped"  # why a trigger is NOT_JUDGED while the operator stopped inspecting


def source_camera_id(source: object) -> str:
    """How records name a source's camera: its ``camera_id`` (a serial number) where it has one, else its name."""
    return str(getattr(source, "camera_id", "") or getattr(source, "name", ""))


class RecordSink(Protocol):
    """An output (trace, reject pulse, result stream …): takes every record, never blocks."""

    def submit(self, record: InspectionRecord) -> None: ...


class NgSink(Protocol):
    """The NG image store: takes frames of rejected parts, never blocks (it may drop by rate or quota)."""

    def submit(self, frame: Frame, result: InspectionResult | None, record: InspectionRecord) -> bool: ...


@dataclass(frozen=True)
class PipelineConfig:
    """Timings of the worker."""

    wait_timeout_s: float = 0.1  # longest wait for a frame; stop requests and changes are seen this often
    source_poll_s: float = 0.25  # how often the source's state and fps are read
    stop_timeout_s: float = 5.0  # longest wait for the worker to end in stop()
    error_repeat_s: float = 10.0  # the same error message is reported at most this often


class InspectionPipeline:
    """Judges the frames of ``source`` with ``inspector`` on a worker thread.

    Args:
        source: An opened, started frame source (the pipeline neither opens nor closes it).
        inspector: The model, or None to only show frames until one is set.
        outputs: Receive every record (e.g. :class:`app.trace.TraceWriter`, :class:`app.reject.RejectOutput`).
        ng_store: Receives frames of rejected parts (e.g. :class:`app.ng_store.NgStore`).
        roi: Inspection region ``(x, y, w, h)`` in frame pixels; None = the model's, else the whole frame.
        config: Worker timings.
        on_error: The app-level error sink; failing outputs are reported there, never up the stack.
        turn: Entered around every model run: the cameras of a station take turns on the device
            (:class:`app.station.turns.DeviceTurns`); default: no waiting.
        camera: The camera's name in every record; "" = the source's ``camera_id`` (see :attr:`camera_id`).
    """

    def __init__(
        self,
        source: FrameSource,
        inspector: Inspector | None,
        *,
        outputs: Sequence[RecordSink] = (),
        ng_store: NgSink | None = None,
        roi: Roi | None = None,
        config: PipelineConfig | None = None,
        on_error: ErrorSink | None = None,
        turn: Turn = contextlib.nullcontext,
        camera: str = "",
    ) -> None:
        self.source = source
        self._turn = turn
        self._camera = camera
        self.config = config or PipelineConfig()
        self._outputs = tuple(outputs)
        self._ng_store = ng_store
        self._on_error = on_error
        self._inspector = inspector
        self._roi = roi
        self._recipe = ""
        self._inspecting = True
        self._pending: dict[str, Any] = {}  # changes for the worker to apply between frames
        self._lock = threading.Lock()
        self._slot: LiveResult | None = None
        self._seq = 0
        self._last_frame_id: int | None = None
        self._stats = StatsAccumulator()
        self._source_stats = SourceStats()
        self._next_poll = 0.0
        self._reported: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        slot = getattr(source, "slot", None)
        if slot is not None:
            slot.on_missed = self._missed

    # --- life cycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (a second call does nothing)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="inspection-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the worker to end and wait up to ``timeout`` s (config default); True if it ended."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(self.config.stop_timeout_s if timeout is None else timeout)
        return thread is None or not thread.is_alive()

    @property
    def camera_id(self) -> str:
        """The camera in every record: the name the station gave it, else the source's ``camera_id`` (a serial
        number) where it has one, else its name."""
        return self._camera or source_camera_id(self.source)

    @property
    def running(self) -> bool:
        """The worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # --- what the view pulls -----------------------------------------------------------------------

    def latest(self) -> LiveResult | None:
        """The newest publication (frame, result, record, timings); the same object until a new one comes."""
        return self._slot

    def stats(self) -> PipelineStats:
        """Counters since the last reset, with the source's state and fps."""
        inspector = self._inspector
        return self._stats.snapshot(self._source_stats, str(inspector.device) if inspector else "")

    def reset_counters(self) -> None:
        """Zero the verdict and dropped counters and the latency history."""
        self._stats.reset()

    # --- operator changes (applied between frames) -------------------------------------------------

    @property
    def inspector(self) -> Inspector | None:
        """The model in use."""
        return self._inspector

    @property
    def next_inspector(self) -> Inspector | None:
        """The model from the next frame on (a swap asked for and not applied yet included)."""
        with self._lock:
            return self._pending.get("inspector", self._inspector)

    @property
    def model_meta(self) -> ModelMetadata | None:
        """Metadata of the model in use."""
        inspector = self._inspector
        return inspector.meta if inspector is not None else None

    @property
    def threshold(self) -> float | None:
        """Raw threshold in use (after pending changes), None without a model."""
        with self._lock:
            pending = self._pending.get("inspector", self._inspector)
            if "threshold" in self._pending and pending is not None:
                return threshold_in_force(pending.calibration, self._pending["threshold"])
        return pending.threshold if pending is not None else None

    @property
    def inspecting(self) -> bool:
        """Frames are judged (otherwise only shown)."""
        with self._lock:
            return bool(self._pending.get("inspecting", self._inspecting))

    def set_threshold(self, raw: float | None) -> None:
        """Use ``raw`` as the NG threshold; None goes back to the model's calibrated threshold."""
        if raw is not None and not 0.0 < raw < 1.0:
            msg = f"threshold {raw} is not inside (0, 1)"
            raise ValueError(msg)
        self._request(threshold=raw)

    def set_roi(self, roi: Roi | None) -> None:
        """Inspect only ``(x, y, w, h)`` of each frame; None = the model's region, else the whole frame."""
        self._request(roi=tuple(int(v) for v in roi) if roi is not None else None)

    def set_inspecting(self, on: bool) -> None:
        """Judge frames (True) or only show them (False)."""
        self._request(inspecting=bool(on))

    def set_outputs(self, outputs: Sequence[RecordSink]) -> None:
        """Replace the outputs between two frames."""
        self._request(outputs=tuple(outputs))

    def set_inspector(self, inspector: Inspector | None, threshold: float | None = None) -> None:
        """Swap in an already loaded model between two frames, with the operator's threshold (None: its own)."""
        self._request(inspector=inspector, threshold=threshold)

    def set_recipe(self, name: str) -> None:
        """The recipe name written into the records from the next frame on."""
        self._request(recipe=str(name))

    def apply_recipe(self, name: str, inspector: Inspector | None, threshold: float | None, roi: Roi | None) -> None:
        """A product change: model, threshold, region and recipe name applied together between two frames."""
        if threshold is not None and not 0.0 < threshold < 1.0:
            msg = f"threshold {threshold} is not inside (0, 1)"
            raise ValueError(msg)
        self._request(inspector=inspector, threshold=threshold, recipe=str(name),
                      roi=tuple(int(v) for v in roi) if roi is not None else None)  # fmt: skip

    def trigger(self, trigger: Trigger) -> None:
        """Judge the part of this trigger: its frame is the next one after it (see the source's slot)."""
        self.source.slot.arm(trigger)

    def _request(self, **changes: Any) -> None:
        with self._lock:
            self._pending.update(changes)
        if not self.running:
            self._apply_pending()

    def _apply_pending(self) -> None:
        with self._lock:  # one step for readers: never the new model with the old threshold
            pending, self._pending = self._pending, {}
            inspector = pending.get("inspector", self._inspector)
            if "threshold" in pending and inspector is not None:
                inspector.set_threshold(pending["threshold"])
            for name in ("inspector", "roi", "recipe", "inspecting", "outputs"):
                if name in pending:
                    setattr(self, f"_{name}", pending[name])

    # --- the worker --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except BaseException as exc:  # noqa: BLE001 - a worker never lets an exception escape
                self._report("pipeline", exc)
                self._stop.wait(self.config.wait_timeout_s)  # do not spin on a persistent failure

    def _step(self) -> None:
        self._poll_source()
        started = time.monotonic()
        frame = self.source.wait_latest(self.config.wait_timeout_s)
        self._apply_pending()  # after the wait: a change made while waiting applies to this very frame
        if frame is None:  # some sources return at once when not live: do not spin
            self._stop.wait(max(0.0, self.config.wait_timeout_s - (time.monotonic() - started)))
            return
        if frame.trigger is None:
            self._count_skipped(frame.frame_id)
        self._process(frame)

    def _poll_source(self) -> None:
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + self.config.source_poll_s
            self._source_stats = self.source.stats()

    def _count_skipped(self, frame_id: int) -> None:
        last, self._last_frame_id = self._last_frame_id, frame_id
        if last is not None and frame_id > last:
            self._stats.frame_skipped(frame_id - last - 1)

    def _process(self, frame: Frame) -> None:
        start = time.monotonic()
        inspector = self._inspector
        if self._inspecting and inspector is not None:
            with self._turn():  # waiting for the device counts in the latency, not in the inference time
                judgement = judge_frame(inspector, frame, self._roi)
        elif frame.trigger is not None:  # a trigger always gets its verdict
            judgement = not_judged(NO_MODEL if inspector is None else STOPPED, self._threshold_now())
        else:  # free run without a model or stopped: the frame is only shown
            self._publish(frame, None, None, 0.0, (time.monotonic() - start) * 1e3)
            return
        since = frame.trigger.time if frame.trigger is not None else frame.timestamp
        arrival = since if 0.0 < since <= start else start
        latency_ms = (time.monotonic() - arrival) * 1e3
        record = self._record(judgement, frame, frame.trigger, latency_ms)
        self._deliver(frame, judgement.result, record, judgement.inference_ms)
        self._publish(frame, judgement.result, record, judgement.inference_ms, latency_ms)

    def _missed(self, trigger: Trigger, reason: str) -> None:
        """A trigger got no frame (overrun, lost, timeout): record it as NOT_JUDGED now (any thread)."""
        try:
            latency_ms = max(0.0, time.monotonic() - trigger.time) * 1e3
            record = self._record(not_judged(reason, self._threshold_now()), None, trigger, latency_ms)
            self._deliver(None, None, record, 0.0)
        except Exception as exc:  # noqa: BLE001 - called from a source's thread: never raise there
            self._report("pipeline", exc)

    def _threshold_now(self) -> float:
        inspector = self._inspector
        return inspector.threshold if inspector is not None else threshold_in_force(None)

    def _record(self, judgement: Judgement, frame: Frame | None, trigger: Trigger | None,
                latency_ms: float) -> InspectionRecord:  # fmt: skip
        return make_record(judgement, frame=frame, trigger=trigger, camera=self.camera_id,
                           inspector=self._inspector, latency_ms=latency_ms, recipe=self._recipe)  # fmt: skip

    def _publish(self, frame: Frame, result: InspectionResult | None, record: InspectionRecord | None,
                 inference_ms: float, latency_ms: float) -> None:  # fmt: skip
        self._seq += 1
        self._slot = LiveResult(self._seq, frame, result, record, inference_ms, latency_ms)

    def _deliver(self, frame: Frame | None, result: InspectionResult | None, record: InspectionRecord,
                 inference_ms: float) -> None:  # fmt: skip
        self._stats.judged(record.verdict, record.latency_ms, inference_ms)
        if frame is not None and record.rejected and self._ng_store is not None:
            self._call("NG images", lambda: self._ng_store.submit(frame, result, record))
        for output in self._outputs:
            self._call(getattr(output, "label", type(output).__name__), lambda o=output: o.submit(record))

    def _call(self, where: str, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - a failing output must not stop inspection
            self._report(where, exc)

    def _report(self, where: str, exc: BaseException, force: bool = False) -> None:
        key = f"{where}: {type(exc).__name__}: {exc}"
        now = time.monotonic()
        if not force and now - self._reported.get(key, -1e9) < self.config.error_repeat_s:
            return
        self._reported[key] = now
        if self._on_error is not None:
            try:
                self._on_error(where, exc)
                return
            except Exception:  # noqa: BLE001 - the sink itself failed; fall back to the log
                pass
        log.error("%s", key)
