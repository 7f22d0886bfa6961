"""The inspection pipeline: one worker thread that judges the newest frame of a source, Qt-free.

The worker takes the newest frame (``source.wait_latest``), runs the model, hands the record to the trace,
the NG store and the publisher (all non-blocking) and puts frame + result + timings into a latest-result
slot. Nobody is told per frame: the view and the self-test pull :meth:`InspectionPipeline.latest` when they
want. Frames that arrive while the model is busy are skipped and counted.

Everything the operator changes (model, threshold, ROI, inspecting on/off) is handed to the worker and
applied between two frames, so a frame is never judged half with the old model and half with the new.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.pipeline.record import InspectionRecord, LiveResult, model_identity
from app.pipeline.stats import PipelineStats, StatsAccumulator
from app.sources.base import Frame, FrameSource, SourceStats
from draem_core.inspector import InspectionResult, Inspector, Roi
from draem_core.modelfile import ModelMetadata

log = logging.getLogger(__name__)

ErrorSink = Callable[[str, BaseException], None]  # (where, exception): the app-level error sink


class RecordSink(Protocol):
    """The trace: takes every record, never blocks."""

    def append(self, record: InspectionRecord) -> None: ...


class NgSink(Protocol):
    """The NG image store: takes NG frames, never blocks (it may drop by rate or quota)."""

    def submit(self, frame: Frame, result: InspectionResult, record: InspectionRecord) -> bool: ...


class ResultPublisher(Protocol):
    """Reject signal / result publisher: takes every record, never blocks."""

    def submit(self, record: InspectionRecord) -> None: ...


@dataclass(frozen=True)
class PipelineConfig:
    """Timings of the worker."""

    wait_timeout_s: float = 0.1  # longest wait for a frame; stop requests and swaps are seen this often
    source_poll_s: float = 0.25  # how often the source's state and fps are read
    stop_timeout_s: float = 5.0  # longest wait for the worker to end in stop()
    device: str = "auto"  # device of models loaded by swap_model when none is loaded yet
    error_repeat_s: float = 10.0  # the same error message is reported at most this often


class InspectionPipeline:
    """Judges the newest frame of ``source`` with ``inspector`` on a worker thread.

    Args:
        source: An opened, started frame source (the pipeline neither opens nor closes it).
        inspector: The model, or None to only show frames until a model is swapped in.
        trace: Receives every record (e.g. :class:`app.trace.TraceWriter`).
        ng_store: Receives NG frames (e.g. :class:`app.ng_store.NgStore`).
        publisher: Receives every record (e.g. :class:`app.reject.RejectOutput`).
        roi: Inspection region ``(x, y, w, h)`` in frame pixels; None = whole frame.
        config: Worker timings.
        on_error: The app-level error sink; worker errors go there, never up the stack.
    """

    def __init__(
        self,
        source: FrameSource,
        inspector: Inspector | None,
        *,
        trace: RecordSink | None = None,
        ng_store: NgSink | None = None,
        publisher: ResultPublisher | None = None,
        roi: Roi | None = None,
        config: PipelineConfig | None = None,
        on_error: ErrorSink | None = None,
    ) -> None:
        self.source = source
        self.config = config or PipelineConfig()
        self._sinks = (trace, ng_store, publisher)
        self._on_error = on_error
        self._inspector = inspector
        self._roi = roi
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
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")

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
        self._loader.shutdown(wait=False, cancel_futures=True)
        return thread is None or not thread.is_alive()

    @property
    def running(self) -> bool:
        """The worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # --- what the view pulls -----------------------------------------------------------------------

    def latest(self) -> LiveResult | None:
        """The newest publication (frame, result, timings); the same object until a new one comes."""
        return self._slot

    def latest_frame(self) -> Frame | None:
        """The newest frame the worker took."""
        slot = self._slot
        return slot.frame if slot is not None else None

    def latest_result(self) -> InspectionResult | None:
        """The newest verdict, None while not inspecting."""
        slot = self._slot
        return slot.result if slot is not None else None

    def stats(self) -> PipelineStats:
        """Counters since the last reset, with the source's state and fps."""
        inspector = self._inspector
        return self._stats.snapshot(self._source_stats, str(inspector.device) if inspector else "")

    def reset_counters(self) -> None:
        """Zero inspected/NG/dropped counters and the latency history."""
        self._stats.reset()

    # --- operator changes (applied between frames) -------------------------------------------------

    @property
    def inspector(self) -> Inspector | None:
        """The model in use."""
        return self._inspector

    @property
    def model_meta(self) -> ModelMetadata | None:
        """Metadata of the model in use."""
        inspector = self._inspector
        return inspector.meta if inspector is not None else None

    @property
    def threshold(self) -> float | None:
        """Raw threshold in use (after pending changes), None without a model."""
        with self._lock:
            if "threshold" in self._pending:
                return self._pending["threshold"]
            pending = self._pending.get("inspector", self._inspector)
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
        """Inspect only ``(x, y, w, h)`` of each frame; None = the whole frame."""
        self._request(roi=tuple(int(v) for v in roi) if roi is not None else None)

    def set_inspecting(self, on: bool) -> None:
        """Judge frames (True) or only show them (False)."""
        self._request(inspecting=bool(on))

    def set_publisher(self, publisher: ResultPublisher | None) -> None:
        """Replace the reject output / result publisher between two frames."""
        self._request(publisher=publisher)

    def set_inspector(self, inspector: Inspector | None) -> None:
        """Swap in an already loaded model between two frames."""
        self._request(inspector=inspector)

    def swap_model(self, path: str | Path, device: str | None = None) -> Future:
        """Load a model file on a loader thread and swap it in between frames.

        The previous model stays in use when loading fails; the failure goes to the error sink and to the
        returned future. The future's result is the loaded :class:`Inspector`.
        """
        current = self._inspector
        dev = device or (str(current.device) if current is not None else self.config.device)
        return self._loader.submit(self._load, Path(path), dev)

    def _load(self, path: Path, device: str) -> Inspector:
        try:
            inspector = Inspector.from_file(path, device=device)
        except BaseException as exc:
            self._report("model", exc, force=True)
            raise
        self._request(inspector=inspector, threshold=None)
        return inspector

    def _request(self, **changes: Any) -> None:
        with self._lock:
            self._pending.update(changes)
        if not self.running:
            self._apply_pending()

    def _apply_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if "inspector" in pending:
            self._inspector = pending["inspector"]
        if "roi" in pending:
            self._roi = pending["roi"]
        if "publisher" in pending:
            self._sinks = (self._sinks[0], self._sinks[1], pending["publisher"])
        if "inspecting" in pending:
            self._inspecting = pending["inspecting"]
        if "threshold" in pending and self._inspector is not None:
            calibrated = self._inspector.calibration.threshold if self._inspector.calibration else 0.5
            self._inspector.threshold = (
                pending["threshold"] if pending["threshold"] is not None else calibrated
            )

    # --- the worker --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except BaseException as exc:  # noqa: BLE001 - a worker never lets an exception escape
                self._report("pipeline", exc)
                self._stop.wait(self.config.wait_timeout_s)  # do not spin on a persistent failure

    def _step(self) -> None:
        self._apply_pending()
        self._poll_source()
        started = time.monotonic()
        frame = self.source.wait_latest(self.config.wait_timeout_s)
        if frame is None:  # some sources return at once when not live: do not spin
            self._stop.wait(max(0.0, self.config.wait_timeout_s - (time.monotonic() - started)))
            return
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
        inspector = self._inspector if self._inspecting else None
        result = record = None
        if inspector is not None:
            try:
                result = inspector.inspect(frame.image, self._roi)
            except Exception as exc:  # noqa: BLE001 - a bad frame must not stop the line
                self._stats.failed()
                self._report("inspection", exc)
        done = time.monotonic()
        arrival = frame.timestamp if 0.0 < frame.timestamp <= start else start
        latency_ms = (done - arrival) * 1e3
        inference_ms = (done - start) * 1e3 if result is not None else 0.0
        if result is not None:
            record = self._record(frame, result, inspector.meta, latency_ms)
            self._stats.inspected(result.is_ng, latency_ms, inference_ms)
            self._deliver(frame, result, record)
        self._seq += 1
        self._slot = LiveResult(self._seq, frame, result, record, inference_ms, latency_ms)

    def _record(
        self, frame: Frame, result: InspectionResult, meta: ModelMetadata, latency_ms: float
    ) -> InspectionRecord:
        name, version = model_identity(meta)
        return InspectionRecord(
            time=time.time(),
            frame_id=int(frame.frame_id),
            camera=frame.source_id or getattr(self.source, "name", ""),
            model_name=name,
            model_version=version,
            score=float(result.score),
            normalized=float(result.normalized),
            threshold=float(result.threshold),
            verdict=result.verdict,
            roi=result.roi,
            latency_ms=latency_ms,
        )

    def _deliver(self, frame: Frame, result: InspectionResult, record: InspectionRecord) -> None:
        trace, ng_store, publisher = self._sinks
        for where, sink, call in (
            ("trace", trace, lambda s: s.append(record)),
            ("NG images", ng_store if result.is_ng else None, lambda s: s.submit(frame, result, record)),
            ("publisher", publisher, lambda s: s.submit(record)),
        ):
            if sink is None:
                continue
            try:
                call(sink)
            except Exception as exc:  # noqa: BLE001 - a failing sink must not stop inspection
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
