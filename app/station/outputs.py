"""Where a station's records go: the trace, the NG image store, the reject pulse of each camera, the result
stream, and outputs added at run time (OPC UA, MQTT …). Every output takes records without blocking.

In the triggered modes a part's verdict across the cameras (:mod:`app.station.parts`) is what a line acts on:
the reject pulse fires once per rejected part, on the first camera that has a digital output (the line the
reject gate is wired to), and the result stream sends one line per part with each camera's record in it; the
cameras' own records then go to the trace and the added outputs only. In free run every camera is judged on
its own: each record pulses its camera's line and is a line on the stream."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from app.ng_store import NgStore, NgStoreConfig
from app.pipeline.pipeline import RecordSink
from app.reject import PulseOutput, RejectConfig, StreamOutput
from app.sources.base import FrameSource
from app.station.camera import Camera, close_quietly
from app.station.part_trace import PartTrace
from app.trace import TraceConfig, TraceWriter

Report = Callable[[str, object], None]


class StationOutputs:
    """The sinks and outputs of one station; the station asks it which outputs a camera's pipeline feeds.

    Args:
        trace_path: The trace database.
        ng_folder: Folder of the NG images; None keeps none.
        reject: Reject-pulse and result-stream settings.
        report: The station's error sink ``(where, exception or text)``.
        trace: Batching, spool and retention of the trace.
    """

    def __init__(self, trace_path: Path, ng_folder: Path | None, reject: RejectConfig, report: Report, *,
                 trace: TraceConfig | None = None) -> None:  # fmt: skip
        self.trace_path, self.ng_folder = trace_path, ng_folder
        self.trace_config = trace or TraceConfig()
        self.reject_config = reject
        self.trace: TraceWriter | None = None
        self.part_trace: PartTrace | None = None  # part verdicts, in the trace database's parts table
        self.ng_store: NgStore | None = None
        self.stream: StreamOutput | None = None
        self.extra: list[RecordSink] = []  # outputs added at run time
        self._report = report
        self._lock = threading.Lock()

    def ensure_sinks(self) -> None:
        """Open the trace and the NG store once (disk: call it on a job thread)."""
        with self._lock:
            if self.trace is None:
                try:
                    self.trace = TraceWriter(self.trace_path, self.trace_config, on_error=self._report)
                    self.part_trace = PartTrace(self.trace_path, on_error=self._report)
                except Exception as exc:  # noqa: BLE001 - inspect without a trace rather than not at all
                    self._report("trace", exc)
            if self.ng_store is None and self.ng_folder is not None:
                try:
                    self.ng_store = NgStore(NgStoreConfig(self.ng_folder), on_error=self._report)
                except OSError as exc:
                    self._report("NG images", exc)

    def ensure_stream(self) -> None:
        """Listen for result-stream clients when the settings ask for it (a taken port is reported, no more)."""
        config = self.reject_config
        if self.stream is not None or not config.tcp_enabled:
            return
        try:
            self.stream = StreamOutput(config, on_error=self._report)
        except OSError as exc:  # e.g. the port is taken by another program: the pulse is not affected
            self._report("result stream", OSError(f"cannot listen on {config.host}:{config.port}: {exc}"))

    def make_pulse(self, source: FrameSource) -> PulseOutput | None:
        """A camera's reject pulse, when enabled (a source without outputs is reported once)."""
        if not self.reject_config.pulse_enabled:
            return None
        pulse = PulseOutput(self.reject_config, source=source, on_error=self._report)
        if pulse.pulse_unavailable:
            self._report("reject output", pulse.pulse_unavailable)
        return pulse

    def for_camera(self, camera: Camera, parts: bool = False) -> list[RecordSink]:
        """Everything a camera's records go to (the NG store is fed separately: frames of rejects only); with
        ``parts`` (triggered modes) the pulse and the stream take part verdicts instead (:meth:`part_outputs`)."""
        own = (self.trace,) if parts else (self.trace, camera.pulse, self.stream)
        return [o for o in own if o is not None] + self.extra

    def part_outputs(self, cameras: list[Camera]) -> list[object]:
        """Where part verdicts go: the part trace, one reject pulse (the first camera with a digital output, else
        the first camera's, which says it has none), the stream and the added outputs (those with ``submit_part``)."""
        pulses = [c.pulse for c in cameras if c.pulse is not None]
        pulse = next((p for p in pulses if not p.pulse_unavailable), pulses[0] if pulses else None)
        return [o for o in (self.part_trace, pulse, self.stream) if o is not None] + self.extra

    def reconfigure(self, config: RejectConfig, cameras: list[Camera]) -> Callable[[], None]:
        """New reject settings: pulses are rebuilt now; returns the job that closes the old outputs and only then
        binds the new stream (a port can be re-used). Call ``ensure_stream`` after the job."""
        self.reject_config = config
        old = [self.stream, *(c.pulse for c in cameras)]
        self.stream = None
        for camera in cameras:
            camera.pulse = self.make_pulse(camera.source)
        return lambda: close_quietly([o for o in old if o is not None])

    def close(self, timeout: float) -> None:
        """Close the stream, the added outputs, the NG store and the trace (queued records are written)."""
        stream, self.stream = self.stream, None
        close_quietly([o for o in (stream, *self.extra) if o is not None])
        for sink in (self.ng_store, self.part_trace, self.trace):
            if sink is not None:
                try:
                    sink.close(timeout)
                except Exception:  # noqa: BLE001 - shutting down: the sink reported its own errors
                    pass
