"""The inspection station, Qt-free: its cameras, their pipelines, the sinks and outputs, models and health.

The GUI is a view over a :class:`Station` (through a thin Qt adapter); ``draem-inspect run`` and the
self-test drive the same class without a window. Everything that may block (opening a camera, loading a
model, closing a source or an output) is handed to the injected ``run(fn, on_done, on_failed)``; outcomes come
back as state changes and the ``on_*`` callbacks, which may be called from any thread the runner uses.

Every frame the station takes to judge and every trigger ends in exactly one record (OK, NG or NOT_JUDGED,
see :mod:`draem_core.verdict`); the trace, the NG image store and the outputs (reject pulse per camera, the
result stream, and whatever :meth:`Station.add_output` adds) receive it. In the triggered modes every camera's
record of a trigger goes into one part verdict (:mod:`app.station.parts`); the part, not each record, pulses
the reject line and goes to the stream, and outputs with ``submit_part`` receive it.

Several cameras: each has its own model, threshold and inspection region (``camera=`` of :meth:`Station.load_model`,
:meth:`Station.set_threshold`, :meth:`Station.set_roi`); they take turns on the inference device
(:mod:`app.station.turns`); a lost camera shows in its own health while the others go on
(:meth:`Station.camera_health`, :meth:`Station.readiness`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.pipeline import InspectionPipeline, LiveResult, PipelineConfig, PipelineStats
from app.pipeline.pipeline import source_camera_id
from app.reject import RejectConfig
from app.sources.base import FrameSource, Trigger
from app.sources.errors import SourceError
from app.state import AppState, AppStatus, StateMachine
from app.station.camera import Camera, close_quietly, open_camera_source, unique_names
from app.station.health import CameraHealth, banner, next_state, readiness
from app.station.jobs import JobRunner
from app.station.models import StationModels
from app.station.modes import HARDWARE_SOURCE, AcquisitionMode, apply_to_all
from app.station.outputs import StationOutputs
from app.station.parts import PartAggregator
from app.station.routing import StationRouting
from app.station.setup import MAX_CAMERAS, OperatorValues, StationSetup, apply_setup, read_setup
from app.station.turns import DeviceTurns, no_turns
from app.trace import TraceConfig
from draem_core.backends.spec import BackendOptions
from draem_core.errors import DraemError
from draem_core.inspector import Inspector, Roi
from draem_core.verdict import threshold_in_force

SourceFactory = Callable[[str], FrameSource]
ErrorSink = Callable[[str, object], None]  # (where, exception or text)


class StationError(DraemError):
    """The station was asked for something it cannot do now (names what and why)."""


@dataclass(frozen=True)
class CameraRecipe:
    """What one camera inspects with under a recipe (see :meth:`Station.apply_recipe`)."""

    model: Path  # the model file
    inspector: Inspector  # that model, loaded for this camera (a worker thread each)
    threshold: float | None  # raw NG threshold; None = the model's calibrated one
    roi: Roi | None  # inspection region; None = the model's own, else the whole frame


@dataclass(frozen=True)
class StationConfig:
    """How the station runs its cameras."""

    device: str = "auto"  # where models run ("auto": the GPU when there is one)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)  # worker timings of each camera
    queue_size: int = 8  # triggered mode: frames waiting to be judged per camera before triggers overrun
    trigger_timeout_s: float = 2.0  # triggered mode: a trigger without a frame after this long is NOT_JUDGED
    ng_images: bool = True  # keep frames of rejected parts in <data>/ng_images
    trace_path: Path | None = None  # the trace database; None: <data>/trace.sqlite
    trace: TraceConfig = field(default_factory=TraceConfig)  # batching, spool and retention of the trace
    backend: str = "torch"  # inference backend: torch, onnxruntime, openvino or auto (optionally name:precision)
    backend_options: BackendOptions | None = None  # graph cache and good frames for int8/bf16; None: <data>/backends
    backend_calibration: Path | None = None  # without backend_options: good images for bf16/int8 (read when loading)
    take_turns: bool = True  # cameras run their models one at a time, in turn (False: all at once, see turns.py)
    part_timeout_s: float = 10.0  # triggered: a camera's record of a part later than this is NOT_JUDGED in the part


class Station(StationModels, StationRouting):
    """Sources, pipelines, trace, NG images, outputs, models and the health state machine of one station.

    Args:
        data_dir: Folder of the trace database and the NG images.
        run: Runs blocking work elsewhere (see :mod:`app.station.jobs`).
        source_factory: Turns a spec (``demo``, ``sim``, a serial, ``folder:...``) into a closed source.
        reject: Reject-pulse and result-stream settings.
        config: Device, timings, queue sizes.
        on_state: Called with every :class:`AppStatus` change.
        on_model: Called with the model path once a model is in use on camera 0 (the station's model).
        on_camera_model: Called with ``(camera index, path)`` once a model is in use on that camera.
        on_model_failed: Called with ``(path, reason)`` when a model could not be loaded (the previous stays).
        on_sources: Called with the list of connected cameras after they changed.
        on_error: The app-level error sink ``(where, exception or text)``.
    """

    def __init__(self, *, data_dir: Path, run: JobRunner, source_factory: SourceFactory | None = None,
                 reject: RejectConfig | None = None, config: StationConfig | None = None,
                 on_state: Callable[[AppStatus], None] | None = None, on_model: Callable[[Path], None] | None = None,
                 on_model_failed: Callable[[Path, str], None] | None = None,
                 on_camera_model: Callable[[int, Path], None] | None = None,
                 on_sources: Callable[[list[Camera]], None] | None = None,
                 on_error: ErrorSink | None = None) -> None:  # fmt: skip
        self.data_dir = Path(data_dir)
        self.config = config or StationConfig()
        ng_folder = self.data_dir / "ng_images" if self.config.ng_images else None
        self.outputs = StationOutputs(self.config.trace_path or self.data_dir / "trace.sqlite", ng_folder,
                                      reject or RejectConfig(), self._report, trace=self.config.trace)  # fmt: skip
        self._run = run
        self._factory = source_factory or _default_factory
        self._on_model, self._on_model_failed, self._on_camera_model = on_model, on_model_failed, on_camera_model
        self._on_sources, self._on_error = on_sources, on_error
        self.machine = StateMachine(on_change=on_state)
        self.specs: tuple[str, ...] = ()
        self.cameras: list[Camera] = []
        self.model_path: Path | None = None  # the model of every camera without a model of its own
        self.inspector: Inspector | None = None  # camera 0's model (or the one loaded before connecting)
        self.camera_models: dict[int, Path] = {}  # cameras with a model of their own (index -> file)
        self.mode = AcquisitionMode.FREE_RUN
        self.hardware_line = HARDWARE_SOURCE  # trigger input of cameras in hardware-trigger mode
        self.values = OperatorValues()  # thresholds and inspection regions, for every camera and per camera
        self.recipe = ""
        self.problem = ""  # a problem the operator must see until a model loads (e.g. a corrupt registry)
        self._good_cache: tuple[Path, tuple] | None = None  # the backend calibration folder's frames, read once
        self.turns = DeviceTurns()  # the cameras' turns on the inference device
        self.parts = PartAggregator(timeout_s=self.config.part_timeout_s, on_error=self._report,
                                    outputs=lambda: self.outputs.part_outputs(self.cameras))  # fmt: skip
        self._want_inspect = True
        self._resume = AppState.INSPECTING
        self._token = 0  # identifies the newest connect request; older answers are discarded
        self._triggers = itertools.count(1)
        self.last_trigger: Trigger | None = None  # the newest trigger the station issued
        self._lock = threading.RLock()
        self._closed = False

    # --- reading -----------------------------------------------------------------------------------

    @property
    def state(self) -> AppState:
        return self.machine.state

    def status(self) -> AppStatus:
        return self.machine.status()

    @property
    def source(self) -> FrameSource | None:
        """The first camera's source (the one a single-camera window shows)."""
        cameras = self.cameras
        return cameras[0].source if cameras else None

    @property
    def pipeline(self) -> InspectionPipeline | None:
        cameras = self.cameras
        return cameras[0].pipeline if cameras else None

    def latest(self, camera: int = 0) -> LiveResult | None:
        """The newest publication of a camera's pipeline (frame, result and record together)."""
        cameras = self.cameras
        return cameras[camera].pipeline.latest() if camera < len(cameras) else None

    def stats(self, camera: int = 0) -> PipelineStats | None:
        cameras = self.cameras
        return cameras[camera].pipeline.stats() if camera < len(cameras) else None

    def camera_stats(self) -> list[PipelineStats]:
        """Every camera's statistics, in source order."""
        return [c.pipeline.stats() for c in self.cameras]

    @property
    def threshold(self) -> float | None:
        """The raw threshold in force on camera 0 (None without a model)."""
        return self.threshold_of(0)

    def threshold_of(self, camera: int) -> float | None:
        """The raw threshold in force on a camera (None without a model)."""
        cameras = self.cameras
        if camera < len(cameras) and cameras[camera].pipeline.next_inspector is not None:
            return cameras[camera].pipeline.threshold
        inspector = self.inspector
        return threshold_in_force(inspector.calibration, self.values.threshold(camera)) if inspector else None

    @property
    def roi(self) -> Roi | None:
        """Camera 0's inspection region (None: the model's region, else the whole frame)."""
        return self.values.roi(0)

    def banner(self) -> tuple[str, str]:
        """``(text, level)`` of the banner the operator sees (see :func:`app.station.health.banner`)."""
        store = self.ng_store
        lost = [h.name for h in self.camera_health() if h.lost]
        return banner(self.status(), has_model=self.inspector is not None, model_problem=self.problem,
                      ng_state=store.state if store else None, ng_warning=store.warning if store else "",
                      lost=lost, triggered=self.mode != AcquisitionMode.FREE_RUN)  # fmt: skip

    def camera_health(self) -> list[CameraHealth]:
        """Every connected camera's health now (the plant's Ready signal and the camera tiles read it)."""
        cameras = list(self.cameras)
        return [CameraHealth.of(c.pipeline.camera_id, c.pipeline.stats(), c.pipeline.next_inspector is not None)
                for c in cameras]  # fmt: skip

    def readiness(self) -> tuple[bool, str]:
        """Whether the station can judge a part now (every camera live with a model, inspecting), and if not,
        why: what a PLC's Ready line follows (see :func:`app.station.health.readiness`)."""
        return readiness(self.state, self.camera_health())

    def setup(self) -> StationSetup:
        """The station as plain data (sources, models, thresholds, regions, mode) for settings and recipes."""
        return read_setup(self)

    def apply_setup(self, setup: StationSetup) -> None:
        """Bring the station to ``setup`` (see :func:`app.station.setup.apply_setup`)."""
        apply_setup(self, setup)

    # --- connecting --------------------------------------------------------------------------------

    def connect_source(self, specs: str | Sequence[str]) -> None:
        """Open and start the sources off the caller's thread; CONNECTING, then LIVE/INSPECTING or ERROR."""
        specs = (specs,) if isinstance(specs, str) else tuple(specs)
        if not specs or len(specs) > MAX_CAMERAS:
            msg = f"a station has 1 to {MAX_CAMERAS} sources, not {len(specs)}"
            raise StationError(msg)
        if not self.machine.enabled("connect"):
            return
        with self._lock:
            old = self._detach()
            self.specs = specs
            self._token += 1
            token = self._token
        self.machine.go(AppState.CONNECTING, f"opening {', '.join(specs)} …")
        self._run(lambda: self._open(specs, old), lambda opened: self._opened(token, opened),
                  lambda exc: self._open_failed(token, specs, exc))  # fmt: skip

    def _open(self, specs: tuple[str, ...], old: list[Camera]) -> list[tuple[FrameSource, Inspector | None]]:
        close_quietly(old)
        self.outputs.ensure_sinks()
        opened: list[tuple[FrameSource, Inspector | None]] = []
        try:
            for i, spec in enumerate(specs):
                source = open_camera_source(self._factory, spec, self.config)
                opened.append((source, self._inspector_for(i)))
        except BaseException:
            for source, _ in opened:
                close_quietly([source])
            raise
        return opened

    def _opened(self, token: int, opened: list[tuple[FrameSource, Inspector | None]]) -> None:
        with self._lock:
            if token != self._token or self._closed:  # superseded or shut down meanwhile
                self._run(lambda: close_quietly([s for s, _ in opened]))
                return
            self.outputs.ensure_stream()
            if opened and opened[0][1] is None:  # a model loaded while the sources opened
                opened[0] = (opened[0][0], self.inspector)
            names = unique_names([source_camera_id(s) for s, _ in opened])
            self.cameras = [self._make_camera(i, self.specs[i], s, ins, names[i]) for i, (s, ins) in enumerate(opened)]
            self.parts.configure(self.mode, names)
            missing = [i for i, (_, ins) in enumerate(opened) if ins is None and i > 0]
        for index in missing:
            path = self.camera_models.get(index, self.model_path)
            if path is not None:
                self._load_for(path, [index], False, self.values.threshold(index))
        mode_job = self._mode_job(self.mode) if self.mode != AcquisitionMode.FREE_RUN else None
        for camera in self.cameras:
            camera.pipeline.start()
        self.machine.go(self._running_state(), f"connected to {', '.join(c.name for c in self.cameras)}")
        self._sources_changed()
        if mode_job is not None:
            self._run(mode_job, None, lambda exc: self._report("trigger", exc))

    def _make_camera(self, index: int, spec: str, source: FrameSource, inspector: Inspector | None,
                     name: str) -> Camera:  # fmt: skip
        camera = Camera(index, spec, source, None, self.outputs.make_pulse(source))  # type: ignore[arg-type]
        camera.pipeline = InspectionPipeline(source, inspector, outputs=self._outputs_of(camera),
                                             ng_store=self.ng_store, roi=self.values.roi(index),
                                             config=self.config.pipeline, on_error=self._report,
                                             turn=self.turns.turn if self.config.take_turns else no_turns,
                                             camera=name)  # fmt: skip
        if inspector is not None:
            camera.pipeline.set_threshold(self.values.threshold(index))
        camera.pipeline.set_recipe(self.recipe)
        camera.pipeline.set_inspecting(self._want_inspect)
        return camera

    def _open_failed(self, token: int, specs: tuple[str, ...], exc: BaseException) -> None:
        if token != self._token or self._closed:
            return
        self._report("source", exc)
        self.machine.go(AppState.ERROR, f"could not open {', '.join(specs)}: {exc}")

    def disconnect_source(self) -> None:
        """Stop inspecting and close the sources (off the caller's thread)."""
        with self._lock:
            old = self._detach()
            self._token += 1
        if self.machine.can_go(AppState.IDLE):
            self.machine.go(AppState.IDLE, "disconnected")
        self._run(lambda: close_quietly(old), None, lambda exc: self._report("source", exc))

    def _detach(self) -> list[Camera]:
        old, self.cameras = self.cameras, []
        if old:
            self._sources_changed()
        return old

    def _sources_changed(self) -> None:
        if self._on_sources is not None:
            self._on_sources(list(self.cameras))

    # --- inspection --------------------------------------------------------------------------------

    def _running_state(self) -> AppState:
        return AppState.INSPECTING if self._want_inspect and self.inspector is not None else AppState.LIVE

    def set_inspecting(self, on: bool) -> None:
        """Start (True) or stop judging frames; without a model frames are only shown."""
        self._want_inspect = bool(on)
        for camera in self.cameras:
            camera.pipeline.set_inspecting(on)
        if self.state in (AppState.LIVE, AppState.INSPECTING):
            self.machine.go(self._running_state())
        elif self.state == AppState.RECONNECTING:
            self._resume = self._running_state()

    def set_threshold(self, raw: float | None, camera: int | None = None) -> None:
        """Operator threshold for every camera (``camera`` None) or for one (None = the model's calibrated one,
        else 0.5)."""
        self.values.set_threshold(raw, camera)
        for c in self.cameras:
            if camera in (None, c.index):
                c.pipeline.set_threshold(self.values.threshold(c.index))
        if not self.cameras and self.inspector is not None and camera in (None, 0):
            self.inspector.set_threshold(raw)

    def set_roi(self, roi: Roi | None, camera: int | None = None) -> None:
        """Inspection region of every camera (``camera`` None) or of one; None = the model's, else the whole frame."""
        self.values.set_roi(roi, camera)
        for c in self.cameras:
            if camera in (None, c.index):
                c.pipeline.set_roi(self.values.roi(c.index))

    def set_recipe(self, name: str) -> None:
        """The recipe name written into every record from the next frame on."""
        self.recipe = name
        for camera in self.cameras:
            camera.pipeline.set_recipe(name)

    def apply_recipe(self, name: str, setups: dict[int, CameraRecipe]) -> None:
        """Change product: each camera's model (loaded already), threshold, region and the recipe name, handed to
        its pipeline in one request, so every frame is judged wholly under one recipe and its record names it.

        Args:
            name: The recipe's name (in every record from the switch on).
            setups: Camera index -> its setup; index 0 (the station's model) is required.
        """
        with self._lock:
            first = setups[0]
            self.model_path, self.inspector, self.problem, self.recipe = first.model, first.inspector, "", name
            self.values.set_threshold(first.threshold)
            self.values.set_roi(first.roi)
            for index, setup in setups.items():
                if index > 0:
                    self.values.set_threshold(setup.threshold, index)
                    self.values.set_roi(setup.roi, index)
            self.camera_models = {i: s.model for i, s in setups.items() if i > 0}
            for camera in self.cameras:
                setup = setups.get(camera.index)
                if setup is not None:
                    camera.pipeline.apply_recipe(name, setup.inspector, setup.threshold, setup.roi)
        if self.state == AppState.LIVE and self._want_inspect:
            self.machine.go(AppState.INSPECTING, f"recipe {name} in force")

    def reset_counters(self) -> None:
        for camera in self.cameras:
            camera.pipeline.reset_counters()
        self.parts.reset()

    # --- triggers ----------------------------------------------------------------------------------

    def set_mode(self, mode: AcquisitionMode | str, hardware_line: str = "") -> None:
        """Free run, or triggered by software / by the cameras' hardware trigger input ``hardware_line``
        (default Line1); the camera commands run off the caller's thread."""
        mode = AcquisitionMode(mode)
        with self._lock:
            self.mode = mode
            self.hardware_line = hardware_line or self.hardware_line
            self.parts.configure(mode, [c.pipeline.camera_id for c in self.cameras])
            self._refresh_outputs()  # triggered: parts pulse and stream, not each camera's records
        if self.cameras:
            self._run(self._mode_job(mode), None, lambda exc: self._report("trigger", exc))

    def _mode_job(self, mode: AcquisitionMode) -> Callable[[], None]:
        cameras, line = list(self.cameras), self.hardware_line
        return lambda: apply_to_all(cameras, mode, line, self._report)

    def trigger(self, part_id: str = "") -> Trigger:
        """Judge the part in front of the cameras now; its record carries the trigger's number and ``part_id``.

        Raises:
            StationError: not in a triggered mode, or no camera connected.
        """
        if self.mode == AcquisitionMode.FREE_RUN:
            raise StationError("trigger: the station is in free run; switch to a triggered mode first")
        cameras = list(self.cameras)
        if not cameras:
            raise StationError("trigger: no camera is connected")
        idle = [c.name for c in cameras if not c.source.slot.triggered]
        if idle:
            raise StationError(f"trigger: {', '.join(idle)} not in triggered mode (yet, or it failed: see the errors)")
        trigger = Trigger(next(self._triggers), str(part_id), time.monotonic())
        self.last_trigger = trigger
        self.parts.start(trigger)
        for camera in cameras:
            camera.pipeline.trigger(trigger)  # the slot takes its frame; a camera in trigger mode is fired too
            if camera.camera_triggered:
                self._run(camera.source.software_trigger, None, lambda exc: self._report("trigger", exc))
        return trigger

    # --- health ------------------------------------------------------------------------------------

    def poll(self) -> PipelineStats | None:
        """Follow the cameras' health (call a few times a second); returns camera 0's stats."""
        cameras = list(self.cameras)
        if not cameras:
            return None
        stats = [c.pipeline.stats() for c in cameras]
        health = [CameraHealth.of(c.pipeline.camera_id, s, c.pipeline.next_inspector is not None)
                  for c, s in zip(cameras, stats, strict=True)]  # fmt: skip
        change = next_state(self.state, health)
        if change is not None:
            state, message = change
            if state == AppState.RECONNECTING:
                self._resume = self.state
            elif state == AppState.ERROR:
                self._report("source", message)
            elif self.state == AppState.RECONNECTING:
                state = self._resume if self._resume in (AppState.LIVE, AppState.INSPECTING) else self._running_state()
            self.machine.go(state, message)
        return stats[0]

    def shutdown(self, timeout: float = 3.0) -> None:
        """Stop everything: bounded waits, nothing left running, the trace flushed."""
        with self._lock:
            self._closed = True
            old = self._detach()
        close_quietly(old, timeout)
        self.parts.close(timeout)  # parts still waiting leave (NOT_JUDGED) before the outputs close
        self.outputs.close(timeout)

    def _report(self, where: str, error: object) -> None:
        if self._on_error is not None:
            self._on_error(where, error)


def _default_factory(spec: str) -> FrameSource:
    from app.sources.factory import open_source

    return open_source(spec)


__all__ = ["CameraRecipe", "Station", "StationConfig", "StationError", "SourceError"]
