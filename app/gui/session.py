"""The live session behind the window: source, pipeline, model, trace, NG images and reject outputs.

Owns the :class:`~app.state.StateMachine`. Everything that may block (opening a camera, loading a model,
opening the trace, closing a source) runs off the GUI thread via :func:`app.gui.tasks.run_task` or the
pipeline's loader; the outcome comes back as a state change or a signal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.error_sink import ErrorSink
from app.gui.tasks import run_task
from app.ng_store import NgStore, NgStoreConfig
from app.pipeline import InspectionPipeline, LiveResult, PipelineStats
from app.reject import RejectConfig, RejectOutput
from app.sources.base import FrameSource, SourceState
from app.state import AppState, AppStatus, StateMachine
from app.trace import TraceWriter
from draem_core.inspector import Inspector, Roi

SourceFactory = Callable[[str], FrameSource]


class InspectionSession(QObject):
    """Connects sources, swaps models and follows the source's health; lives on the GUI thread.

    Args:
        errors: The app-level error sink.
        source_factory: Turns a spec (``demo``, ``sim``, a serial, ``folder:...``) into a closed source.
        data_dir: Folder of the trace database and the NG images.
        reject: Reject-output settings.
        device: Where models run ("auto": the GPU when there is one).
    """

    stateChanged = Signal(object)  # AppStatus
    modelChanged = Signal(object)  # Path of the model now in use
    modelFailed = Signal(object, str)  # Path, reason (the previous model stays)
    sourceChanged = Signal(object)  # the connected FrameSource, or None
    _swapped = Signal(object, object)  # Path, Inspector or exception (from the pipeline's loader thread)

    def __init__(self, *, errors: ErrorSink, source_factory: SourceFactory, data_dir: Path,
                 reject: RejectConfig | None = None, device: str = "auto", parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.errors = errors
        self.source_factory = source_factory
        self.data_dir = Path(data_dir)
        self.reject_config = reject or RejectConfig()
        self.device = device
        self.machine = StateMachine(on_change=self.stateChanged.emit)
        self.spec = ""
        self.source: FrameSource | None = None
        self.pipeline: InspectionPipeline | None = None
        self.publisher: RejectOutput | None = None
        self.inspector: Inspector | None = None
        self.model_path: Path | None = None
        self.trace: TraceWriter | None = None
        self.ng_store: NgStore | None = None
        self.roi: Roi | None = None
        self._want_inspect = True
        self._resume = AppState.INSPECTING
        self._token = 0  # identifies the newest connect request; older answers are discarded
        self._sinks_lock = threading.Lock()
        self._closed = False
        self._swapped.connect(self._on_swapped)

    # --- state -------------------------------------------------------------------------------------

    @property
    def state(self) -> AppState:
        return self.machine.state

    def status(self) -> AppStatus:
        return self.machine.status()

    def latest(self) -> LiveResult | None:
        """The pipeline's newest publication."""
        return self.pipeline.latest() if self.pipeline is not None else None

    def stats(self) -> PipelineStats | None:
        return self.pipeline.stats() if self.pipeline is not None else None

    # --- connecting --------------------------------------------------------------------------------

    def connect_source(self, spec: str) -> None:
        """Open and start ``spec`` off the GUI thread; the state goes CONNECTING, then LIVE/INSPECTING or ERROR."""
        if not self.machine.enabled("connect"):
            return
        old = self._detach()
        self.spec = spec
        self._token += 1
        token = self._token
        self.machine.go(AppState.CONNECTING, f"opening {spec} …")
        run_task(
            lambda: self._open(spec, old),
            lambda source: self._opened(token, source),
            lambda exc: self._open_failed(token, spec, exc),
        )

    def _open(self, spec: str, old: tuple) -> FrameSource:
        _teardown(*old)
        self._ensure_sinks()
        source = self.source_factory(spec)
        try:
            source.open()
            source.start()
        except BaseException:
            _quietly(source.close)
            raise
        return source

    def _opened(self, token: int, source: FrameSource) -> None:
        if token != self._token or self._closed:  # superseded or the window closed meanwhile
            run_task(lambda: _teardown(None, source, None))
            return
        self.source = source
        self.publisher = self._make_publisher(source)
        self.pipeline = InspectionPipeline(source, self.inspector, trace=self.trace, ng_store=self.ng_store,
                                           publisher=self.publisher, roi=self.roi, on_error=self.errors)  # fmt: skip
        self.pipeline.set_inspecting(self._want_inspect)
        self.pipeline.start()
        self.machine.go(self._running_state(), f"connected to {source.name}")
        self.sourceChanged.emit(source)

    def _open_failed(self, token: int, spec: str, exc: BaseException) -> None:
        if token != self._token or self._closed:
            return
        self.errors("source", exc)
        self.machine.go(AppState.ERROR, f"could not open {spec}: {exc}")

    def disconnect_source(self) -> None:
        """Stop inspecting and close the source (off the GUI thread)."""
        old = self._detach()
        self._token += 1
        if self.machine.can_go(AppState.IDLE):
            self.machine.go(AppState.IDLE, "disconnected")
        run_task(lambda: _teardown(*old), None, lambda exc: self.errors("source", exc))

    def _detach(self) -> tuple:
        old = (self.pipeline, self.source, self.publisher)
        self.pipeline = self.source = self.publisher = None
        if old[1] is not None:
            self.sourceChanged.emit(None)
        return old

    def _ensure_sinks(self) -> None:
        """Open the trace and the NG store once (disk: called on a pool thread)."""
        with self._sinks_lock:
            if self.trace is None:
                try:
                    self.trace = TraceWriter(self.data_dir / "trace.sqlite", on_error=self.errors)
                except Exception as exc:  # noqa: BLE001 - inspect without a trace rather than not at all
                    self.errors("trace", exc)
            if self.ng_store is None:
                try:
                    self.ng_store = NgStore(NgStoreConfig(self.data_dir / "ng_images"), on_error=self.errors)
                except OSError as exc:
                    self.errors("NG images", exc)

    def _make_publisher(self, source: FrameSource) -> RejectOutput | None:
        config = self.reject_config
        if not (config.pulse_enabled or config.tcp_enabled):
            return None
        try:
            output = RejectOutput(config, source=source, on_error=self.errors)
        except OSError as exc:  # e.g. the port is taken by another program
            self.errors("result publisher", OSError(f"cannot listen on {config.host}:{config.port}: {exc}"))
            return None
        if output.pulse_unavailable:
            self.errors("reject output", output.pulse_unavailable)
        return output

    def set_reject_config(self, config: RejectConfig) -> None:
        """Use new reject settings now (the running publisher is replaced)."""
        self.reject_config = config
        if self.pipeline is None or self.source is None:
            return
        old, self.publisher = self.publisher, self._make_publisher(self.source)
        self.pipeline.set_publisher(self.publisher)
        if old is not None:
            run_task(old.close)

    # --- inspection --------------------------------------------------------------------------------

    def _running_state(self) -> AppState:
        return AppState.INSPECTING if self._want_inspect and self.inspector is not None else AppState.LIVE

    def set_inspecting(self, on: bool) -> None:
        """Start (True) or stop judging frames; without a model frames are only shown."""
        self._want_inspect = bool(on)
        if self.pipeline is not None:
            self.pipeline.set_inspecting(on)
        if self.state in (AppState.LIVE, AppState.INSPECTING):
            self.machine.go(self._running_state())
        elif self.state == AppState.RECONNECTING:
            self._resume = self._running_state()

    def set_threshold(self, raw: float | None) -> None:
        """Operator threshold (None = the model's calibrated one)."""
        if self.pipeline is not None:
            self.pipeline.set_threshold(raw)
        elif self.inspector is not None:
            cal = self.inspector.calibration
            self.inspector.threshold = raw if raw is not None else (cal.threshold if cal else 0.5)

    def set_roi(self, roi: Roi | None) -> None:
        self.roi = roi
        if self.pipeline is not None:
            self.pipeline.set_roi(roi)

    def reset_counters(self) -> None:
        if self.pipeline is not None:
            self.pipeline.reset_counters()

    # --- models ------------------------------------------------------------------------------------

    def load_model(self, path: str | Path) -> None:
        """Load a model off the GUI thread and swap it in; the previous one stays if it fails."""
        path = Path(path)
        if self.pipeline is not None:
            future = self.pipeline.swap_model(path, self.device if self.inspector is None else None)
            future.add_done_callback(lambda f: self._swapped.emit(path, _outcome(f)))
            return
        run_task(lambda: Inspector.from_file(path, self.device), lambda ins: self._model_ready(path, ins),
                 lambda exc: self._model_failed(path, exc, report=True))  # fmt: skip

    def _on_swapped(self, path: Path, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self._model_failed(path, outcome, report=False)  # the pipeline already reported it
        else:
            self._model_ready(path, outcome)

    def _model_ready(self, path: Path, inspector: Inspector) -> None:
        self.inspector, self.model_path = inspector, path
        if self.pipeline is not None and self.pipeline.inspector is not inspector:
            self.pipeline.set_inspector(inspector)
        if self.state == AppState.LIVE and self._want_inspect:
            self.machine.go(AppState.INSPECTING, f"model {inspector.meta.name} loaded")
        self.modelChanged.emit(path)

    def _model_failed(self, path: Path, exc: BaseException, report: bool) -> None:
        if report:
            self.errors("model", exc)
        kept = f"; still using {self.inspector.meta.name}" if self.inspector is not None else ""
        self.modelFailed.emit(path, f"{exc}{kept}")

    # --- health ------------------------------------------------------------------------------------

    def poll(self) -> PipelineStats | None:
        """Follow the source's state (call a few times a second); returns the stats it read."""
        stats = self.stats()
        if stats is None:
            return None
        state, name = self.state, self.source.name if self.source is not None else self.spec
        if stats.source_state == SourceState.RECONNECTING and state in (AppState.LIVE, AppState.INSPECTING):
            self._resume = state
            detail = f" ({stats.source_error})" if stats.source_error else ""
            self.machine.go(AppState.RECONNECTING, f"{name}: connection lost, reconnecting …{detail}")
        elif stats.source_state == SourceState.ERROR and state != AppState.ERROR:
            self.errors("source", f"{name} failed: {stats.source_error or 'unknown error'}")
            self.machine.go(AppState.ERROR, f"{name} failed: {stats.source_error}")
        elif state == AppState.RECONNECTING and stats.source_state == SourceState.LIVE:
            self.machine.go(self._resume if self._resume in (AppState.LIVE, AppState.INSPECTING)
                            else self._running_state(), f"{name}: reconnected")  # fmt: skip
        return stats

    def shutdown(self, timeout: float = 3.0) -> None:
        """Stop everything (window closing): bounded waits, nothing left running."""
        self._closed = True
        pipeline, source, publisher = self._detach()
        _teardown(pipeline, source, publisher, timeout)
        for sink in (self.trace, self.ng_store):
            if sink is not None:
                _quietly(lambda s=sink: s.close(timeout))


def _teardown(pipeline: InspectionPipeline | None, source: FrameSource | None,
              publisher: RejectOutput | None, timeout: float = 5.0) -> None:  # fmt: skip
    if pipeline is not None:
        pipeline.stop(timeout)
    if source is not None:
        _quietly(source.close)
    if publisher is not None:
        _quietly(publisher.close)


def _quietly(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception:  # noqa: BLE001 - closing must go on; the source reported its own errors
        pass


def _outcome(future: Future) -> object:
    try:
        return future.result()
    except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as a value
        return exc
