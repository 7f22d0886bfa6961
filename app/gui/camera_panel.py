"""Source and camera panel: device list, connect/disconnect, exposure, gain, frame rate and trigger.

Discovery and every camera call run off the GUI thread (:func:`run_task`); values come back as the camera
applied them (a camera rounds exposure to its own step). Sources without camera features (demo line,
folders, videos) leave the controls disabled with the reason in a note.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.camera.controls import EXPOSURE_NAMES, FRAME_RATE_NAMES, GAIN_NAMES
from app.camera.features import FeatureInfo, FeatureTree
from app.gui.error_sink import ErrorSink
from app.gui.tasks import run_task

FIXED_SOURCES = (("Demo line (synthetic flanges)", "demo"), ("Simulated GenICam camera", "sim"))
PICK_FOLDER, PICK_VIDEO = "<folder>", "<video>"
TRIGGER_SOURCES = ("Software", "Line0", "Line1", "Line2")  # offered when trigger mode is on


class CameraPanel(QWidget):
    """Chooses a source and edits the standard camera settings of the connected one."""

    connectRequested = Signal(str)  # source spec
    disconnectRequested = Signal()
    treeLoaded = Signal(object)  # FeatureTree of the connected camera
    triggerModeChosen = Signal(str, str)  # acquisition mode value, trigger line ("" unless hardware)
    triggerRequested = Signal(str)  # part id

    def __init__(
        self, *, errors: ErrorSink, discover: Callable[[], object] | None = None, parent=None
    ) -> None:
        super().__init__(parent)
        self.errors = errors
        self.discover = discover
        self.source = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        layout.addWidget(self._source_box())
        layout.addWidget(self._controls_box())
        layout.addStretch(1)
        self.set_source(None)

    # --- source choice -----------------------------------------------------------------------------

    def _source_box(self) -> QGroupBox:
        box = QGroupBox("Source")
        v = QVBoxLayout(box)
        self.combo = QComboBox()
        self.combo.setMinimumContentsLength(24)
        self.refresh = QPushButton("Refresh")
        self.refresh.setToolTip("Look for GenICam cameras (GENICAM_GENTL64_PATH producers and the simulator)")
        self.refresh.clicked.connect(self.refresh_devices)
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(self.refresh)
        self.connect_button = QPushButton("Connect")
        self.connect_button.setProperty("accent", True)
        self.connect_button.clicked.connect(self._connect_clicked)
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.clicked.connect(self.disconnectRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.connect_button)
        buttons.addWidget(self.disconnect_button)
        self.device_note = QLabel("")
        self.device_note.setObjectName("Muted")
        self.device_note.setWordWrap(True)
        v.addLayout(row)
        v.addLayout(buttons)
        v.addWidget(self.device_note)
        self._fill([])
        return box

    def _fill(self, cameras: list) -> None:
        current = self.current_spec()
        self.combo.clear()
        for label, spec in FIXED_SOURCES:
            self.combo.addItem(label, spec)
        for cam in cameras:
            status = "" if cam.access_status in ("ReadWrite", "Unknown") else f" [{cam.access_status}]"
            if cam.is_simulator:
                self.combo.addItem(f"Simulated camera · {cam.serial}", f"sim:{cam.serial}")
            else:
                self.combo.addItem(f"{cam.vendor} {cam.model} · {cam.serial}{status}", cam.serial)
        self.combo.addItem("Image folder…", PICK_FOLDER)
        self.combo.addItem("Video file…", PICK_VIDEO)
        self.select_spec(current or "demo")

    def select_spec(self, spec: str) -> None:
        """Select ``spec`` in the list, adding it when it is not there (a folder, an unplugged camera)."""
        index = self.combo.findData(spec)
        if index < 0:
            self.combo.insertItem(self.combo.count() - 2, _label(spec), spec)
            index = self.combo.findData(spec)
        self.combo.setCurrentIndex(index)

    def current_spec(self) -> str:
        data = self.combo.currentData() if self.combo.count() else None
        return data if isinstance(data, str) and data not in (PICK_FOLDER, PICK_VIDEO) else ""

    def refresh_devices(self) -> None:
        """List cameras in the background; the list keeps its entries meanwhile."""
        if self.discover is None:
            return
        self.refresh.setEnabled(False)
        self.device_note.setText("looking for cameras …")
        run_task(self.discover, self._discovered, self._discovery_failed)

    def _discovered(self, found) -> None:
        self.refresh.setEnabled(True)
        real = [c for c in found.cameras if not c.is_simulator]
        self._fill(real + [c for c in found.cameras if c.is_simulator])
        note = (
            f"{len(real)} camera(s) found"
            if real
            else "no camera found: check cable and driver (GenTL producer)"
        )
        problems = f"; {len(found.problems)} producer problem(s)" if found.problems else ""
        self.device_note.setText(f"{note}{problems}")
        self.device_note.setToolTip("\n".join(found.problems))

    def _discovery_failed(self, exc: BaseException) -> None:
        self.refresh.setEnabled(True)
        self.device_note.setText("camera search failed (see log)")
        self.errors("camera discovery", exc)

    def _connect_clicked(self) -> None:
        data = self.combo.currentData()
        if data == PICK_FOLDER:
            folder = QFileDialog.getExistingDirectory(self, "Folder of images to inspect")
            data = f"folder:{folder}" if folder else ""
        elif data == PICK_VIDEO:
            path, _ = QFileDialog.getOpenFileName(
                self, "Video to inspect", "", "Videos (*.mp4 *.avi *.mkv *.mov)"
            )
            data = f"video:{path}" if path else ""
        if data:
            self.select_spec(data)
            self.connectRequested.emit(data)

    def set_actions(self, can_connect: bool, can_disconnect: bool) -> None:
        """Enable the buttons from the app state."""
        self.connect_button.setEnabled(can_connect)
        self.combo.setEnabled(can_connect)
        self.disconnect_button.setEnabled(can_disconnect)

    # --- camera settings ---------------------------------------------------------------------------

    def _controls_box(self) -> QGroupBox:
        box = QGroupBox("Camera")
        form = QFormLayout(box)
        self.exposure = _spin(" µs", 1)
        self.gain = _spin(" dB", 2)
        self.frame_rate = _spin(" Hz", 2)
        self.trigger = QComboBox()
        self.trigger.addItem("Off (free run)", "")
        for src in TRIGGER_SOURCES:
            self.trigger.addItem(f"On · {src}", src)
        self.soft_trigger = QPushButton("Software trigger")
        self.controls_note = QLabel("")
        self.controls_note.setObjectName("Muted")
        self.controls_note.setWordWrap(True)
        form.addRow("Exposure", self.exposure)
        form.addRow("Gain", self.gain)
        form.addRow("Frame rate", self.frame_rate)
        form.addRow("Trigger", self.trigger)
        form.addRow("", self.soft_trigger)
        form.addRow(self.controls_note)
        self.exposure.editingFinished.connect(lambda: self._set("set_exposure_us", self.exposure))
        self.gain.editingFinished.connect(lambda: self._set("set_gain", self.gain))
        self.frame_rate.editingFinished.connect(lambda: self._set("set_frame_rate", self.frame_rate))
        self.trigger.activated.connect(self._trigger_chosen)
        self.soft_trigger.clicked.connect(lambda: self.triggerRequested.emit(""))
        return box

    def set_source(self, source) -> None:
        """The connected source (None when disconnected); camera features are read in the background."""
        self.source = source
        for w in (self.exposure, self.gain, self.frame_rate, self.trigger, self.soft_trigger):
            w.setEnabled(False)
        for spin in (self.exposure, self.gain, self.frame_rate):
            spin.setSpecialValueText("—")
            spin.setMinimum(0.0)
            spin.setValue(0.0)
        if source is None:
            self.controls_note.setText("not connected")
            return
        if not callable(getattr(source, "feature_tree", None)):
            self.controls_note.setText(f"{source.name} has no camera settings")
            return
        self.controls_note.setText("reading camera features …")
        run_task(source.feature_tree, lambda tree: self._tree_read(source, tree),
                 lambda exc: self._camera_failed("reading camera features", exc))  # fmt: skip

    def _tree_read(self, source, tree: FeatureTree) -> None:
        if source is not self.source:
            return
        missing = []
        for spin, names, label in ((self.exposure, EXPOSURE_NAMES, "exposure"), (self.gain, GAIN_NAMES, "gain"),
                                   (self.frame_rate, FRAME_RATE_NAMES, "frame rate")):  # fmt: skip
            info = next((tree.features[n] for n in names if n in tree.features), None)
            if not _configure(spin, info):
                missing.append(label)
        mode = tree.features.get("TriggerMode")
        self.trigger.setEnabled(mode is not None and mode.writable)
        self.soft_trigger.setEnabled("TriggerSoftware" in tree.features)
        if mode is None:
            missing.append("trigger")
        self.controls_note.setText(f"this camera has no {', '.join(missing)}" if missing else "")
        self.treeLoaded.emit(tree)

    def _set(self, op: str, spin: QDoubleSpinBox) -> None:
        value = spin.value()
        self._call(op, value, done=lambda applied: _show(spin, applied))

    def _trigger_chosen(self, index: int) -> None:
        """The camera's trigger goes through the station, so every triggered frame gets its verdict."""
        src = self.trigger.itemData(index)
        mode = "free_run" if not src else "software" if src == "Software" else "hardware"
        self.triggerModeChosen.emit(mode, src or "")

    def _call(self, op: str, *args, done: Callable | None = None) -> None:
        source = self.source
        if source is None or not callable(getattr(source, "control", None)):
            return
        run_task(lambda: source.control(op, *args), done, lambda exc: self._camera_failed(op, exc))

    def _camera_failed(self, what: str, exc: BaseException) -> None:
        self.controls_note.setText(f"{what} failed: {getattr(exc, 'reason', exc)}")
        self.errors("camera", exc)


def _spin(suffix: str, decimals: int) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setSuffix(suffix)
    spin.setDecimals(decimals)
    spin.setKeyboardTracking(False)
    spin.setRange(0, 1e9)
    spin.setSpecialValueText("—")  # shown at the minimum while no camera value is known
    return spin


def _configure(spin: QDoubleSpinBox, info: FeatureInfo | None) -> bool:
    """Range, step and value from the camera; disabled (with the reason as tooltip) when not writable."""
    if info is None:
        spin.setToolTip("not available on this camera")
        return False
    spin.blockSignals(True)
    spin.setSpecialValueText("")
    spin.setRange(
        info.minimum if info.minimum is not None else 0.0, info.maximum if info.maximum is not None else 1e9
    )
    if info.increment:
        spin.setSingleStep(info.increment)
    if isinstance(info.value, int | float):
        spin.setValue(float(info.value))
    spin.blockSignals(False)
    spin.setEnabled(info.writable)
    spin.setToolTip(f"{info.name} ({info.access})" + (f": {info.description}" if info.description else ""))
    return True


def _show(spin: QDoubleSpinBox, value) -> None:
    if isinstance(value, int | float):
        spin.blockSignals(True)
        spin.setValue(float(value))
        spin.blockSignals(False)


def _label(spec: str) -> str:
    kind, _, rest = spec.partition(":")
    if kind in ("folder", "video") and rest:
        return f"{kind.capitalize()} · {Path(rest).name or rest}"
    if kind == "sim":
        return f"Simulated camera · {rest}" if rest else "Simulated GenICam camera"
    return f"Camera · {spec}"
