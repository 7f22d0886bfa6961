"""The thin Qt adapter over the Qt-free :class:`~app.station.Station`: signals on the GUI thread, and
:func:`app.gui.tasks.run_task` as the station's way to run blocking work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.gui.error_sink import ErrorSink
from app.gui.tasks import run_task
from app.reject import RejectConfig
from app.sources.base import FrameSource
from app.station import Station, StationConfig
from app.trace import TraceConfig

SourceFactory = Callable[[str], FrameSource]


class StationQt(QObject):
    """Owns a :class:`Station` and re-emits its callbacks as signals (queued to the GUI thread).

    Args:
        errors: The app-level error sink.
        source_factory: Spec -> closed FrameSource.
        data_dir: Folder of the trace database and the NG images.
        reject: Reject-output settings.
        trace: Spool and retention of the trace (default: TraceConfig()).
        device: Where models run.
        backend: The inference backend (torch, onnxruntime, openvino or auto).
        backend_calibration: Good images of the product for bf16/int8 (None: fp32 only).
    """

    stateChanged = Signal(object)  # AppStatus
    modelChanged = Signal(object)  # Path of the model now in use on camera 0 (the station's model)
    cameraModelChanged = Signal(int, object)  # camera index, Path of the model now in use on it
    modelFailed = Signal(object, str)  # Path, reason (the previous model stays)
    sourcesChanged = Signal(object)  # list of connected app.station.Camera (empty when none)

    def __init__(self, *, errors: ErrorSink, source_factory: SourceFactory, data_dir: Path,
                 reject: RejectConfig | None = None, device: str = "auto", trace: TraceConfig | None = None,
                 backend: str = "torch", backend_calibration: Path | None = None,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        config = StationConfig(device=device, trace=trace or TraceConfig(), backend=backend,
                               backend_calibration=backend_calibration)  # fmt: skip
        self.station = Station(data_dir=data_dir, run=run_task, source_factory=source_factory, reject=reject,
                               config=config, on_state=self.stateChanged.emit,
                               on_model=self.modelChanged.emit, on_model_failed=self.modelFailed.emit,
                               on_camera_model=self.cameraModelChanged.emit,
                               on_sources=self.sourcesChanged.emit, on_error=errors)  # fmt: skip
