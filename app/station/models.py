"""The station's models: one for every camera, or one per camera, loaded off the caller's thread and swapped in
between two frames; a model that fails to load leaves the previous one in use.

A part of :class:`app.station.Station` (a mixin: it uses the station's cameras, job runner, lock, state machine
and callbacks), kept in its own module so each stays readable.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.state import AppState
from draem_core.backends.frames import read_good_frames
from draem_core.backends.spec import BackendOptions, BackendRequest
from draem_core.errors import DraemError
from draem_core.inspector import Inspector


class StationModels:
    """Loading and swapping the cameras' models (mixed into :class:`app.station.Station`)."""

    def model_of(self, camera: int) -> Path | None:
        """The model file a camera runs (its own, else the station's)."""
        return self.camera_models.get(camera, self.model_path)

    def forget_model(self, camera: int) -> None:
        """A camera runs the station's model (camera 0's) from its next connect on, not a model of its own."""
        with self._lock:
            self.camera_models.pop(camera, None)

    def load_model(self, path: str | Path, camera: int | None = None, threshold: float | None = None) -> None:
        """Load a model off the caller's thread for every camera (``camera`` None) or for one camera, used with the
        operator's ``threshold`` (None: its calibrated one); the previous model stays where loading fails."""
        path = Path(path)
        targets = [camera] if camera is not None else list(range(max(1, len(self.cameras))))
        self._load_for(path, targets, camera is None, threshold)

    def set_backend(self, backend: str, calibration: Path | None = None) -> None:
        """Run the models on another inference backend (``torch``, ``onnxruntime``, ``openvino``, ``auto``, optionally
        ``name:precision``), with good images of the product in ``calibration`` for bf16/int8 (without them
        ``auto`` considers fp32 only): every model in use is loaded again with it, off the caller's thread. When
        that fails the models and the backend in use stay (the error says why).

        Raises:
            BackendError: an unknown backend or precision (nothing changes).
        """
        request = BackendRequest.parse(backend)
        with self._lock:
            before = self.config
            self.config = replace(self.config, backend=str(request), backend_calibration=calibration)
            files = {i: self.model_of(i) for i in range(max(1, len(self.cameras)))}
        files = {i: path for i, path in files.items() if path is not None}

        def failed(exc: BaseException) -> None:
            with self._lock:
                self.config = before  # models keep loading as they did
            self._model_failed(next(iter(files.values())), exc)

        if files:
            self._run(lambda: {i: (path, self._open_model(path)) for i, path in files.items()}, self._backend_ready,
                      failed)  # fmt: skip

    def _backend_ready(self, loaded: dict[int, tuple[Path, Inspector]]) -> None:
        """The same models on the new backend: swapped in camera by camera, thresholds and regions kept."""
        with self._lock:
            if 0 in loaded and loaded[0][0] == self.model_path:
                self.inspector = loaded[0][1]
            for index, (path, inspector) in loaded.items():
                if index < len(self.cameras) and self.model_of(index) == path:
                    self.cameras[index].pipeline.set_inspector(inspector, self.values.threshold(index))
        if 0 in loaded and self._on_model is not None:
            self._on_model(loaded[0][0])
        if self._on_camera_model is not None:
            for index, (path, _) in loaded.items():
                self._on_camera_model(index, path)

    def _open_model(self, path: Path) -> Inspector:
        """A model file on the station's device and backend (derived graphs cached in ``<data>/backends``)."""
        config = self.config
        options = config.backend_options or BackendOptions(cache_dir=self.data_dir / "backends",
                                                           good_frames=self._good_frames(config))  # fmt: skip
        return Inspector.from_file(path, config.device, config.backend, options)

    def _good_frames(self, config) -> tuple:
        """The calibration folder's good frames (read once per folder; none for torch or without a folder)."""
        folder = config.backend_calibration
        if folder is None or config.backend == "torch":
            return ()
        cached = self._good_cache
        if cached is not None and cached[0] == folder:
            return cached[1]
        try:
            frames, skipped = read_good_frames(folder)
        except DraemError as exc:  # the backend then offers what needs no good frames, and says so
            self._report("backend", exc)
            return ()
        for path, reason in skipped[:3]:
            self._report("backend", f"calibration image {path} skipped: {reason}")
        self._good_cache = (folder, frames)
        return frames

    def _inspector_for(self, index: int) -> Inspector | None:
        """Camera ``index``'s own model instance (a worker thread each): camera 0 takes the loaded one."""
        path = self.model_of(index)
        if index == 0 and (path is None or self.inspector is not None):
            return self.inspector
        if path is None:
            return None
        try:
            return self._open_model(path)
        except Exception as exc:  # noqa: BLE001 - this camera runs without a model; the others go on
            self._report("model", exc)
            return None

    def _load_for(self, path: Path, targets: list[int], every_camera: bool, threshold: float | None) -> None:
        self._run(lambda: [self._open_model(path) for _ in targets],
                  lambda loaded: self._model_ready(path, dict(zip(targets, loaded, strict=True)), every_camera,
                                                   threshold),
                  lambda exc: self._model_failed(path, exc))  # fmt: skip

    def _model_ready(self, path: Path, loaded: dict[int, Inspector], every_camera: bool,
                     threshold: float | None) -> None:  # fmt: skip
        with self._lock:
            if every_camera:
                self.camera_models = {}
                self.values.set_threshold(threshold)
            else:
                self.camera_models.update(dict.fromkeys(loaded, path))
                for index in loaded:
                    self.values.set_threshold(threshold, index)
            if 0 in loaded:  # camera 0's model is the station's: the window shows it
                self.inspector, self.model_path = loaded[0], path
                self.problem = ""
            for index, inspector in loaded.items():
                if index < len(self.cameras):
                    self.cameras[index].pipeline.set_inspector(inspector, self.values.threshold(index))
            late = [c.index for c in self.cameras if every_camera and c.index not in loaded]  # connected meanwhile
        if late:
            self._load_for(path, late, False, threshold)
        if self.state == AppState.LIVE and self._want_inspect and self.inspector is not None:
            self.machine.go(AppState.INSPECTING, f"model {self.inspector.meta.name} loaded")
        if 0 in loaded and self._on_model is not None:
            self._on_model(path)
        if self._on_camera_model is not None:
            for index in loaded:
                self._on_camera_model(index, path)

    def _model_failed(self, path: Path, exc: BaseException) -> None:
        self._report("model", exc)
        kept = f"; still using {self.inspector.meta.name}" if self.inspector is not None else ""
        if self._on_model_failed is not None:
            self._on_model_failed(path, f"{exc}{kept}")
