"""The operator's screen: live view with heatmap, a big OK/NG, counters, statistics, trend and controls.

The window pulls: a ~30 Hz timer draws the station's newest result (frames are never pushed as
signals) and a 4 Hz timer reads the statistics and follows the sources' health. All state lives in the
Qt-free :class:`~app.station.Station` (``self.station``; its Qt adapter ``self.session`` turns its callbacks
into signals); actions are enabled from its state machine. A station with several cameras shows a tile per
camera and the part's verdict large (:mod:`app.gui.multi_camera`); the Inspection controls edit the camera
chosen in them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMenu, QMessageBox, QScrollArea, QWidget

from app.audit import AuditLog
from app.gui.access import apply_mode, open_access
from app.gui.audit_trail import AuditTrail, described
from app.gui.camera_panel import CameraPanel
from app.gui.error_sink import ErrorSink, Notice
from app.gui.feature_tree import FeatureTreePanel
from app.gui.inspection_controls import InspectionControls
from app.gui.layout import StationLayout
from app.gui.modes import ModeSwitch
from app.gui.multi_camera import MultiCamera
from app.gui.plant_control import PlantControl
from app.gui.presenter import show_banner, show_idle_verdict
from app.gui.settings import GuiSettings
from app.gui.startup import LaunchOptions, choose_source, choose_sources, model_choice
from app.gui.station_qt import SourceFactory, StationQt
from app.gui.status import StatusView
from app.gui.tasks import run_task
from app.gui.window_actions import WindowActions
from app.paths import APP_NAME, ORG_NAME, data_home, resources_dir
from app.pipeline import LiveResult
from app.pipeline.record import model_identity
from app.state import AppState, AppStatus
from app.station import AcquisitionMode
from app.station.camera import unique_names
from draem_core.errors import DraemError

REFRESH_MS = 33  # live view redraw (~30 Hz), pulling the newest result
STATS_MS = 250  # statistics, source health and banners
TREND_EVERY = 3  # trend plot redrawn every Nth refresh (~10 Hz)


def default_source_factory(spec: str):
    from app.sources.factory import open_source

    return open_source(spec)


def default_discover():
    from app.camera.discovery import discover

    return discover()


class MainWindow(QMainWindow):
    """The live inspection window.

    Args:
        options: What to open (source, model, operator mode, full screen).
        settings: The QSettings store (tests pass an ini file); default: the application's.
        source_factory: Spec -> closed FrameSource (default ``app.sources.factory.open_source``).
        discover: Lists cameras for the source panel (default: GenTL discovery); None: no search.
        data_dir: Trace database (with the audit log), NG images and model registry (default ``data_home()``).
        device: Where models run.
        machine_settings: The machine-wide access settings file (default: :func:`app.access.machine_settings_path`).
    """

    def __init__(
        self,
        options: LaunchOptions | None = None,
        *,
        settings: QSettings | None = None,
        source_factory: SourceFactory = default_source_factory,
        discover: Callable[[], object] | None = default_discover,
        data_dir: Path | None = None,
        device: str = "auto",
        machine_settings: Path | None = None,
    ) -> None:
        super().__init__()
        if not QCoreApplication.organizationName():
            QCoreApplication.setOrganizationName(ORG_NAME)
            QCoreApplication.setApplicationName(APP_NAME)
        self.options = options or LaunchOptions()
        self.settings = GuiSettings(settings if settings is not None else QSettings())
        self.data_dir = Path(data_dir) if data_dir is not None else data_home()
        self.errors = ErrorSink(self)
        audit_db = self.data_dir / "trace.sqlite"  # the audit log has its own table in the trace database
        self.audit = AuditTrail(AuditLog(audit_db, on_error=self.errors), role=lambda: self.modes.role, parent=self)
        self.session = StationQt(errors=self.errors, source_factory=source_factory, data_dir=self.data_dir,
                                 reject=self.settings.reject(), trace=self.settings.trace(), device=device,
                                 backend=self.settings.backend(),
                                 backend_calibration=self.settings.backend_calibration(), parent=self)  # fmt: skip
        self.station = self.session.station
        self.setWindowTitle("draem-inspect · live inspection")
        icon = resources_dir() / "icons" / "draem-inspect.svg"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.board = StationLayout(self)
        self.setCentralWidget(self.board)
        self.cams = MultiCamera(self)
        self.status = StatusView(self.statusBar())
        self._build_docks(discover)
        self.modes = ModeSwitch(self, open_access(self.settings.store, machine_settings), audit_db=audit_db)
        self.commands = WindowActions(self)
        self.plant = PlantControl(self)  # recipes, OPC UA and MQTT: the Plant dock and the toolbar's recipe selector
        self._wire()
        self._restore()
        self._last_seq = -1
        self._ticks = 0
        self.refresh_timer = QTimer(self, interval=REFRESH_MS, timeout=self.refresh)
        self.stats_timer = QTimer(self, interval=STATS_MS, timeout=self.update_stats)
        self.refresh_timer.start()
        self.stats_timer.start()
        self._on_state(self.station.status())
        if self.options.autostart:
            QTimer.singleShot(0, self.start_up)

    # --- construction ------------------------------------------------------------------------------

    def _build_docks(self, discover: Callable[[], object] | None) -> None:
        """Acquisition on top, Inspection and Camera features as tabs below, all on the left."""
        self.camera_panel = CameraPanel(errors=self.errors, discover=discover)
        self.features = FeatureTreePanel(errors=self.errors)
        self.controls = InspectionControls()
        self.docks: list[QDockWidget] = []
        for title, widget in (("Acquisition", self.camera_panel), ("Inspection", self.controls),
                              ("Camera features", self.features)):  # fmt: skip
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title.lower().replace(' ', '-')}")
            dock.setWidget(widget if widget is self.features else _scrolling(widget))
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable)  # fmt: skip
            self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
            self.docks.append(dock)
        self.splitDockWidget(self.docks[0], self.docks[1], Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.docks[1], self.docks[2])
        self.docks[1].raise_()
        self.resizeDocks([self.docks[0]], [350], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks[0], self.docks[1]], [440, 480], Qt.Orientation.Vertical)

    def _wire(self) -> None:
        s = self.session
        s.stateChanged.connect(self._on_state)
        s.cameraModelChanged.connect(self._on_camera_model)
        s.modelFailed.connect(self._model_failed)
        s.sourcesChanged.connect(self._on_sources)
        self.errors.reported.connect(self._on_notice)
        self.camera_panel.connectRequested.connect(self.connect_source)
        self.camera_panel.disconnectRequested.connect(self.station.disconnect_source)
        self.camera_panel.treeLoaded.connect(self.features.set_tree)
        self.camera_panel.triggerModeChosen.connect(self.set_mode)
        self.camera_panel.triggerRequested.connect(self.trigger)
        self.controls.parts.modeChosen.connect(self.set_mode)
        self.controls.parts.triggerRequested.connect(self.trigger)
        self.controls.thresholdChanged.connect(self.set_threshold)
        self.board.trend.thresholdDragged.connect(self.set_threshold)
        self.controls.overlayChanged.connect(self.set_overlay)
        self.controls.roiToggled.connect(self.set_roi_enabled)
        self.controls.roiResetRequested.connect(self.reset_roi)
        self.controls.rejectChanged.connect(self.set_reject)
        self.board.view.roiChanged.connect(self.roi_moved)
        self.controls.cameraChosen.connect(self.cams.choose)
        self.controls.backendChosen.connect(self.set_backend)
        self.controls.calibrationChosen.connect(self.set_backend_calibration)
        self.board.counters.resetRequested.connect(self.reset_counters)

    def _restore(self) -> None:
        st = self.settings
        self.resize(1600, 1000)
        st.restore_window(self)
        overlay = st.overlay()
        self.controls.set_overlay(overlay)
        self.board.view.set_overlay(overlay)
        self.controls.set_reject(st.reject())
        self.controls.set_backend(st.backend())
        self.controls.set_calibration(st.backend_calibration())
        self.station.set_mode(st.acquisition_mode())
        self.controls.parts.show_mode(self.station.mode)
        self.commands.trigger.setEnabled(self.station.mode != AcquisitionMode.FREE_RUN)
        self.camera_panel.select_spec(choose_source(self.options, st.source_spec()))
        if st.roi_enabled():
            self.controls.set_roi_enabled(True)
            self.board.view.set_roi_enabled(True, st.roi())
            self.station.set_roi(st.roi(), 0)
        self.modes.start()  # always operator mode: engineer mode needs the password (docs/gui.md)
        if self.options.fullscreen:
            self.showFullScreen()
        problem = st.problem()
        if problem:  # one line, however many values were unusable
            self.errors("settings", problem)

    # --- start-up, sources, models -----------------------------------------------------------------

    def start_up(self) -> None:
        """Load the models (or switch to the active recipe) and open the station's sources chosen by options and
        settings (all in the background)."""
        recipe = self.options.model is None and self.plant.resume_recipe()
        if not recipe:
            self._load_start_model()
        specs = choose_sources(self.options, self.settings.station_specs(), self.settings.source_spec())
        for camera in range(1, len(specs) if not recipe else 0):  # cameras with a model of their own
            own = self.settings.model_path(camera)
            if own is not None and own.is_file() and own != self.settings.model_path():
                self.station.load_model(own, camera=camera)
        self.connect_source(specs)
        self.camera_panel.refresh_devices()

    def _load_start_model(self) -> None:
        choice = model_choice(self.options, self.settings.model_path(), self.data_dir / "models")
        if choice.problem:
            self.station.problem = choice.problem  # shown in the banner until a model loads
            self.errors("model", choice.problem)
        if choice.path is not None:
            self.load_model(choice.path, every_camera=True)
        elif not choice.problem:
            self.errors("model", f"no model found (the bundled demo model is missing at {resources_dir() / 'models'}); "
                        "load one with Model ▸ Load model…")  # fmt: skip

    def connect_selected(self) -> None:
        spec = self.camera_panel.current_spec()
        if spec:
            self.connect_source(spec)
        else:
            self.camera_panel._connect_clicked()  # folder/video entries ask for the path first

    def connect_source(self, specs: str | list[str]) -> None:
        """Open the station's sources: one spec (``demo``, ``sim``, a serial, ``folder:...``, ``video:...``) or up to
        four, each a camera; every camera's inspection region is set before its first frame."""
        specs = [specs] if isinstance(specs, str) else list(specs)
        self.camera_panel.select_spec(specs[0])
        self.settings.set_source_spec(specs[0])
        self.settings.set_station_specs(specs)
        for camera in range(len(specs)):
            self.station.set_roi(self.settings.roi(camera) if self.settings.roi_enabled(camera) else None, camera)
        self.station.connect_source(specs)

    def load_model(self, path: str | Path, camera: int | None = None, every_camera: bool = False) -> None:
        """Load a model in the background and swap it in (the previous model stays if it fails): for the camera
        chosen in the Inspection controls (``camera`` None), for ``camera``, or with ``every_camera`` for all."""
        several = self.cams.several and not every_camera
        target = (self.cams.selected if camera is None else camera) if several else None
        where = f" for camera {target + 1}" if target is not None and self.cams.several else ""
        self.status.flash(f"loading model {Path(path).name}{where} …")
        self.station.load_model(Path(path), camera=target)

    def choose_model_file(self) -> None:
        if not self.modes.allows("load_model"):
            return
        start = str(self.station.model_path.parent if self.station.model_path else self.data_dir)
        path, _ = QFileDialog.getOpenFileName(
            self, "Load model", start, "draem-inspect models (*.safetensors)"
        )
        if path:
            self.load_model(path)

    def latest(self, camera: int = 0) -> LiveResult | None:
        """A camera's newest frame with its verdict, as one publication (for the retrain wizard); never blocks."""
        return self.station.latest(camera)

    def camera_settings(self, camera: int = 0) -> dict:
        """A camera's feature values as last read (for the wizard's capture records); never blocks. The feature
        panel reads camera 0's features; other cameras give their name only."""
        cameras = self.station.cameras
        source = cameras[camera].source if camera < len(cameras) else None
        tree = self.features.tree_data if camera == 0 else None
        values = {n: f.value for n, f in tree.features.items() if f.streamable and f.readable} if tree else {}
        return {"source": source.name if source is not None else "", "features": values}

    def _on_camera_model(self, camera: int, path: Path) -> None:
        """A camera runs a new model: its saved threshold for it applies; the controls show it when chosen."""
        cameras = self.station.cameras
        inspector = cameras[camera].pipeline.next_inspector if camera < len(cameras) else self.station.inspector
        name, version = model_identity(inspector.meta if inspector else None)
        where = f" on camera {camera + 1}" if self.cams.several else ""
        self.audit.note("model", f"{name} {version}".strip() or path.name, detail=f"{path}{where}")
        self.settings.set_model_path(path, camera)
        saved = self.settings.threshold_for(path, camera)
        if saved is not None:
            self.station.set_threshold(saved, camera)
        if camera == self.cams.selected:
            self.show_model_of(camera)
            self.board.trend.clear_history()
        self.status.flash(f"model {inspector.meta.name if inspector else path.name} in use{where}")
        self._update_banner()

    def _model_failed(self, path: Path, why: str) -> None:
        self.status.flash(f"model not loaded: {why}", error=True)
        backend = self.station.config.backend  # a backend that could not run the models was not kept
        if backend != self.settings.backend():
            self.settings.set_backend(backend)
            inspector = self.station.inspector
            self.controls.set_backend(backend, str(inspector.backend.spec) if inspector else "")

    def show_model_of(self, camera: int) -> None:
        """The model card, the threshold controls and the trend's line for a camera's model."""
        cameras = self.station.cameras
        inspector = cameras[camera].pipeline.next_inspector if camera < len(cameras) else self.station.inspector
        cal = inspector.calibration.threshold if inspector and inspector.calibration else None
        current = self.station.threshold_of(camera)
        self.controls.set_model_threshold(cal, current)
        self.board.trend.set_threshold(current)
        self.board.model.show_model(inspector.meta if inspector else None, self.station.model_of(camera))
        self.controls.set_backend(self.station.config.backend, str(inspector.backend.spec) if inspector else "")

    def _on_sources(self, cameras: list) -> None:
        source = cameras[0].source if cameras else None
        self.camera_panel.set_source(source)
        self.features.set_source(source)
        if cameras:
            self.cams.sources_changed([c.pipeline.camera_id for c in cameras], unique_names([c.name for c in cameras]))
            self.show_model_of(self.cams.selected)
        if source is None:
            self.board.view.clear()
            self._last_seq = -1

    # --- operator changes --------------------------------------------------------------------------

    def set_threshold(self, raw: float | None) -> None:
        """Apply and remember a threshold for the chosen camera's model (None: back to calibrated)."""
        camera = self.cams.selected
        model = self.station.model_of(camera)
        before = self.station.threshold_of(camera)
        if before is None or not self.modes.allows("threshold"):
            return
        self.station.set_threshold(raw, camera)
        if model is not None:
            self.settings.set_threshold_for(model, raw, camera)
        value = self.station.threshold_of(camera)
        self.controls.show_threshold(value)
        self.board.trend.set_threshold(value)
        where = f" (camera {camera + 1})" if self.cams.several else ""
        self.audit.note_settled("threshold", "calibrated" if raw is None else f"{value:.6g}",
                                previous=f"{before:.6g}", detail=f"{model or ''}{where}")  # fmt: skip

    def set_mode(self, mode: str, line: str = "") -> None:
        """Free run or triggered (software / hardware) for every camera; remembered for the next start."""
        if not self.modes.allows("acquisition"):
            return
        self.audit.note("acquisition", mode, previous=self.station.mode.value, detail=line)
        self.station.set_mode(mode, line)
        self.controls.parts.show_mode(mode)
        self.commands.trigger.setEnabled(self.station.mode != AcquisitionMode.FREE_RUN)
        self.settings.set_acquisition_mode(mode)
        self.status.flash(f"acquisition: {mode.replace('_', ' ')}")

    def trigger(self, part_id: str = "") -> None:
        """Judge the part in front of the cameras now (triggered modes); never waits on the camera."""
        if not self.modes.allows("trigger"):
            return
        try:
            trigger = self.station.trigger(part_id)
        except DraemError as exc:
            self.errors("trigger", exc)
            return
        self.controls.parts.show_trigger(trigger.number, trigger.part_id)

    def set_backend(self, name: str) -> None:
        """Run the models on another inference backend (engineers; the models are loaded again in the background,
        the ones in use stay until then, or for good when the backend cannot run them)."""
        before = self.station.config.backend
        if not self.modes.allows("backend") or name == before:
            return
        try:
            self.station.set_backend(name, self.settings.backend_calibration())
        except DraemError as exc:
            self.errors("backend", exc)
            return
        self.settings.set_backend(name)
        self.audit.note("backend", name, previous=before)
        self.status.flash(f"loading the models on {name} …")

    def set_backend_calibration(self, folder: Path | None) -> None:
        """Good images of the product for bf16/int8 (engineers); the models are loaded again when a backend other
        than torch is chosen."""
        if not self.modes.allows("backend"):
            return
        self.settings.set_backend_calibration(folder)
        self.controls.set_calibration(folder)
        self.audit.note("backend", f"good images {folder or 'none'}")
        if self.station.config.backend != "torch":
            self.station.set_backend(self.station.config.backend, folder)
            self.status.flash(f"loading the models on {self.station.config.backend} …")

    def set_overlay(self, options) -> None:
        camera = self.cams.selected
        self.cams.view().set_overlay(options)
        self.settings.set_overlay(options, camera)

    def set_roi_enabled(self, on: bool) -> None:
        if not self.modes.allows("roi"):
            return
        camera, view = self.cams.selected, self.cams.view()
        view.set_roi_enabled(on, self.settings.roi(camera))
        roi = view.current_roi() if on else None
        self.audit.note("roi", roi, previous=self.station.values.roi(camera), detail=self._camera_detail(camera))
        self.station.set_roi(roi, camera)
        self.settings.set_roi_enabled(on, camera)
        if roi is not None:
            self.settings.set_roi(roi, camera)

    def reset_roi(self) -> None:
        view = self.cams.view()
        if view.roi_enabled:
            view.set_roi_enabled(True, None)
            self.roi_moved(view.current_roi(), self.cams.selected)

    def roi_moved(self, roi, camera: int = 0) -> None:
        """A camera's inspection region was moved in its view."""
        if not self.modes.allows("roi"):
            return
        self.audit.note_settled("roi", roi, previous=self.station.values.roi(camera), detail=self._camera_detail(camera))
        self.station.set_roi(roi, camera)
        self.settings.set_roi(roi, camera)

    def _camera_detail(self, camera: int) -> str:
        """How the audit log names a camera ("" with one camera)."""
        return f"camera {camera + 1}" if self.cams.several else ""

    def set_reject(self, config) -> None:
        if not self.modes.allows("outputs"):
            return
        self.audit.note("outputs", described(config), previous=described(self.station.reject_config))
        self.settings.set_reject(config)
        self.station.set_reject_config(config)
        self.status.flash("reject outputs applied")

    def set_inspecting(self, on: bool) -> None:
        """Start or stop judging frames (operators: as the operator-actions setting allows)."""
        if self.modes.allows("start_inspection" if on else "stop_inspection"):
            self.audit.note("inspection", "started" if on else "stopped")
            self.station.set_inspecting(on)

    def set_recipe(self, name: str) -> None:
        """Switch to recipe ``name`` (operators: if the operator actions allow it; in the background, a failed
        switch is reported and the old recipe stays)."""
        if self.modes.allows("select_recipe"):
            self.audit.note("recipe", name, previous=self.station.recipe)
            self.plant.switch(name)

    def reset_counters(self) -> None:
        if not self.modes.allows("reset_counters"):
            return
        self.audit.note("counters", "reset")
        self.station.reset_counters()
        self.board.trend.clear_history()
        self.update_stats()

    def toggle_mode(self) -> None:
        if self.modes.operator:
            self.modes.request_engineer()
        else:
            self.modes.enter_operator()

    def toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def apply_mode(self, operator: bool) -> None:
        """Show what the mode allows (called by :class:`ModeSwitch`; the rules are in :mod:`app.gui.access`)."""
        apply_mode(self, operator)

    def enable_actions(self) -> None:
        """Enable each action as the state machine and the mode allow."""
        machine, allows = self.station.machine, self.modes.allows
        self.commands.enable_from(lambda name: machine.enabled(name) and allows(name))

    def createPopupMenu(self) -> QMenu | None:  # noqa: N802 - Qt override: no way back to hidden panels for operators
        return None if self.modes.operator else super().createPopupMenu()

    # --- timers ------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Draw the newest result if there is one (the ~30 Hz timer); several cameras: every tile."""
        live = self.station.latest()
        self._ticks += 1
        if self.cams.refresh():
            pass
        elif live is not None and live.seq != self._last_seq:
            self._last_seq = live.seq
            self.board.view.show_live(live)
            if live.record is not None and self.station.state == AppState.INSPECTING:
                self.board.verdict.show_record(live.record)
                if live.record.score is not None:
                    self.board.trend.add(live.record.score, live.record.rejected)
        if self._ticks % TREND_EVERY == 0:
            self.board.trend.redraw()

    def update_stats(self) -> None:
        """Statistics, source health and banners (the 4 Hz timer)."""
        stats = self.cams.show_stats(self.station.poll())
        self.board.counters.show_stats(stats)
        self.board.stats.show_stats(stats)
        self._update_banner()

    def _on_state(self, status: AppStatus) -> None:
        machine = self.station.machine
        self.enable_actions()
        self.camera_panel.set_actions(machine.enabled("connect"), machine.enabled("disconnect"))
        self.status.set_state(status)
        show_idle_verdict(self.board, self.station)
        self._update_banner()

    def _update_banner(self) -> None:
        show_banner(self.board, self.station)

    def _on_notice(self, notice: Notice) -> None:
        self.status.flash(f"{notice.where}: {notice.message}", error=True)

    # --- retrain, export, about, close -------------------------------------------------------------

    def open_retrain_wizard(self) -> None:
        """Open the retrain wizard (imported on first use) with the live window's callbacks."""
        from app.gui.retrain_link import open_wizard

        open_wizard(self)

    def export_trace(self) -> None:
        from app.gui.dialogs import TraceExportDialog
        from app.trace import export_csv

        dialog = TraceExportDialog(self)
        if dialog.exec() != TraceExportDialog.DialogCode.Accepted:
            return
        start, end = dialog.time_range()
        out, db = Path(dialog.out.text()), self.data_dir / "trace.sqlite"
        run_task(lambda: export_csv(db, out, start, end), lambda n: self.status.flash(f"exported {n} inspections to {out}"),
                 lambda exc: self.errors("trace export", exc))  # fmt: skip

    def about(self) -> None:
        from draem_core.version import __version__

        QMessageBox.about(self, "About draem-inspect", f"<b>draem-inspect</b> {__version__}<br>"
                          "Visual inspection with DRAEM anomaly detection.<br>"
                          f"Data folder: {self.data_dir}<br>Log files: {self.data_dir / 'logs'}")  # fmt: skip

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.refresh_timer.stop()
        self.stats_timer.stop()
        self.settings.save_window(self)
        self.settings.sync()
        self.hide()
        self.station.shutdown()
        self.audit.close()
        super().closeEvent(event)


def _scrolling(widget: QWidget) -> QScrollArea:
    """A panel in a frameless scroll area, so docks can be shorter than their content."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width() + 4)
    return area
