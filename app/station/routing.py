"""Where a station sends its records and part verdicts: the sinks and outputs of :class:`StationOutputs`, chosen
per camera and per acquisition mode, and outputs added at run time.

A part of :class:`app.station.Station` (a mixin: it uses the station's cameras, lock, job runner and error
sink), kept in its own module so each stays readable.
"""

from __future__ import annotations

from app.ng_store import NgStore
from app.pipeline.pipeline import RecordSink
from app.reject import RejectConfig, StreamOutput
from app.station.camera import Camera
from app.station.modes import AcquisitionMode
from app.trace import TraceWriter


class StationRouting:
    """The station's outputs (mixed into :class:`app.station.Station`)."""

    @property
    def trace(self) -> TraceWriter | None:
        return self.outputs.trace

    @property
    def ng_store(self) -> NgStore | None:
        return self.outputs.ng_store

    @ng_store.setter
    def ng_store(self, store: NgStore | None) -> None:  # before connecting: e.g. a store on another disk
        self.outputs.ng_store = store

    @property
    def stream(self) -> StreamOutput | None:
        return self.outputs.stream

    @property
    def reject_config(self) -> RejectConfig:
        return self.outputs.reject_config

    def set_reject_config(self, config: RejectConfig) -> None:
        """Use new reject settings: pulses are rebuilt at once; the old stream is closed before the new binds."""
        with self._lock:
            close_old = self.outputs.reconfigure(config, self.cameras)
            self._refresh_outputs()

        def swap_stream() -> None:
            close_old()
            with self._lock:
                if self.outputs.reject_config is config and not self._closed:
                    self.outputs.ensure_stream()
                    self._refresh_outputs()

        self._run(swap_stream, None, lambda exc: self._report("result stream", exc))

    def add_output(self, output: RecordSink) -> None:
        """Send every record of every camera to ``output`` too (e.g. an OPC UA server, an MQTT client), and every
        part verdict (triggered modes) when it has ``submit_part``."""
        with self._lock:
            self.outputs.extra.append(output)
            self._refresh_outputs()

    def remove_output(self, output: RecordSink) -> None:
        with self._lock:
            if output in self.outputs.extra:
                self.outputs.extra.remove(output)
            self._refresh_outputs()

    def _refresh_outputs(self) -> None:
        for camera in self.cameras:
            camera.pipeline.set_outputs(self._outputs_of(camera))

    def _outputs_of(self, camera: Camera) -> list[RecordSink]:
        """A camera's records go to the sinks and outputs, and to the part verdicts (used in triggered modes)."""
        return [*self.outputs.for_camera(camera, parts=self.mode != AcquisitionMode.FREE_RUN), self.parts]
