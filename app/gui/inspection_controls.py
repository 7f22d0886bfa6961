"""Engineer controls for the inspection: parts (trigger mode), threshold (sensitivity), ROI, overlay and reject
outputs."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.gui.parts_panel import PartsBox
from app.gui.settings import BACKEND_CHOICES, COLORMAPS, MAX_TOKEN_CHARS, OverlayOptions
from app.reject import RejectConfig

SLIDER_STEPS = 10_000  # threshold slider resolution over the raw score range 0..1


class InspectionControls(QWidget):
    """Parts, threshold, ROI, overlay and reject settings; emits a signal per change, never acts itself."""

    thresholdChanged = Signal(object)  # raw float, or None = back to the calibrated threshold
    roiToggled = Signal(bool)
    roiResetRequested = Signal()
    overlayChanged = Signal(object)  # OverlayOptions
    rejectChanged = Signal(object)  # RejectConfig
    cameraChosen = Signal(int)  # the camera the threshold, region and overlay controls edit (several cameras)
    backendChosen = Signal(str)  # torch, onnxruntime, openvino or auto
    calibrationChosen = Signal(object)  # Path of good images for bf16/int8, or None

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._calibrated: float | None = None
        self._quiet = False
        self._reject_base = RejectConfig()  # the reject settings last shown
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        self.camera = QComboBox()
        self.camera.setToolTip("The camera whose threshold, inspection region and overlay these controls edit")
        self.camera.activated.connect(self.cameraChosen)
        self.camera_row = QWidget()
        row = QHBoxLayout(self.camera_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Camera"))
        row.addWidget(self.camera, 1)
        self.camera_row.hide()  # shown while the station has several cameras
        layout.addWidget(self.camera_row)
        self.parts = PartsBox()
        layout.addWidget(self.parts)
        layout.addWidget(self._threshold_box())
        layout.addWidget(self._roi_box())
        layout.addWidget(self._overlay_box())
        layout.addWidget(self._reject_box())
        layout.addWidget(self._backend_box())
        layout.addStretch(1)

    def show_cameras(self, names: list[str], selected: int = 0) -> None:
        """The cameras to choose from (the choice is hidden with one camera)."""
        self.camera.clear()
        self.camera.addItems([f"{i + 1}: {name}" for i, name in enumerate(names)])
        self.camera.setCurrentIndex(min(selected, max(0, len(names) - 1)))
        self.camera_row.setVisible(len(names) > 1)

    # --- inference backend --------------------------------------------------------------------------

    def _backend_box(self) -> QGroupBox:
        box = QGroupBox("Inference")
        form = QFormLayout(box)
        self.backend = QComboBox()
        self.backend.addItems(list(BACKEND_CHOICES))
        self.backend.setToolTip("Where the network runs: torch, ONNX Runtime or OpenVINO (optional extras); auto "
                                "picks the fastest installed one that matches torch on this model, once")  # fmt: skip
        self.backend.activated.connect(lambda _: self.backendChosen.emit(self.backend.currentText()))
        self.backend_in_use = QLabel("")
        self.backend_in_use.setObjectName("Muted")
        self.calibration = QLineEdit()
        self.calibration.setReadOnly(True)
        self.calibration.setPlaceholderText("none: fp32 only")
        self.calibration.setToolTip("A folder of good images of the product (not test images): bf16 and int8 are "
                                    "validated (and int8 calibrated) on them before they are used")  # fmt: skip
        choose, clear = QPushButton("Choose…"), QPushButton("Clear")
        choose.clicked.connect(self._choose_calibration)
        clear.clicked.connect(lambda: self.calibrationChosen.emit(None))
        row = QHBoxLayout()
        row.addWidget(self.calibration, 1)
        row.addWidget(choose)
        row.addWidget(clear)
        form.addRow("Backend", self.backend)
        form.addRow("Good images", row)
        form.addRow(self.backend_in_use)
        return box

    def _choose_calibration(self) -> None:
        from pathlib import Path

        from PySide6.QtWidgets import QFileDialog

        folder = QFileDialog.getExistingDirectory(self, "Good images of the product", self.calibration.text())
        if folder:
            self.calibrationChosen.emit(Path(folder))

    def set_calibration(self, folder) -> None:
        """Show the good-image folder the backends validate on (None: none)."""
        self.calibration.setText(str(folder) if folder else "")

    def set_backend(self, name: str, in_use: str = "") -> None:
        """Show the chosen backend and what the model runs on now (``in_use``, e.g. ``onnxruntime``)."""
        self.backend.setCurrentText(name)
        self.backend_in_use.setText(f"running on {in_use}" if in_use else "")

    # --- threshold ---------------------------------------------------------------------------------

    def _threshold_box(self) -> QGroupBox:
        box = QGroupBox("Threshold / sensitivity")
        form = QVBoxLayout(box)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, SLIDER_STEPS - 1)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(4)
        self.spin.setRange(0.0001, 0.9999)
        self.spin.setSingleStep(0.001)
        self.spin.setToolTip(
            "Raw score at or above which a part is NG. Lower = more sensitive (more rejects)."
        )
        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        self.calibrated = QLabel("no model")
        self.calibrated.setObjectName("Muted")
        self.reset_threshold = QPushButton("Use calibrated")
        self.reset_threshold.clicked.connect(lambda: self.thresholdChanged.emit(None))
        foot = QHBoxLayout()
        foot.addWidget(self.calibrated, 1)
        foot.addWidget(self.reset_threshold)
        form.addLayout(row)
        form.addLayout(foot)
        self.slider.valueChanged.connect(lambda v: self._user_threshold(v / SLIDER_STEPS))
        self.spin.valueChanged.connect(self._user_threshold)
        return box

    def set_model_threshold(self, calibrated: float | None, current: float | None) -> None:
        """Show the model's calibrated threshold and the one in use (no signal)."""
        self._calibrated = calibrated
        has_model = current is not None
        for w in (self.slider, self.spin, self.reset_threshold):
            w.setEnabled(has_model)
        self.calibrated.setText(f"calibrated {calibrated:.4f}" if calibrated is not None else "no model")
        if current is not None:
            self.show_threshold(current)

    def show_threshold(self, raw: float) -> None:
        """Move the controls to ``raw`` without emitting."""
        self._quiet = True
        self.slider.setValue(round(raw * SLIDER_STEPS))
        self.spin.setValue(raw)
        self._quiet = False
        changed = self._calibrated is not None and abs(raw - self._calibrated) > 5e-5
        self.reset_threshold.setEnabled(changed)

    def _user_threshold(self, value: float) -> None:
        if self._quiet:
            return
        self.show_threshold(value)
        self.thresholdChanged.emit(float(value))

    # --- ROI and overlay ---------------------------------------------------------------------------

    def _roi_box(self) -> QGroupBox:
        box = QGroupBox("Inspection region")
        row = QHBoxLayout(box)
        self.roi_check = QCheckBox("Inspect region only")
        self.roi_check.setToolTip("Drag the dashed rectangle in the image to place the region")
        self.roi_check.toggled.connect(self.roiToggled)
        self.roi_reset = QPushButton("Reset")
        self.roi_reset.clicked.connect(self.roiResetRequested)
        row.addWidget(self.roi_check, 1)
        row.addWidget(self.roi_reset)
        return box

    def set_roi_enabled(self, on: bool) -> None:
        self.roi_check.blockSignals(True)
        self.roi_check.setChecked(on)
        self.roi_check.blockSignals(False)

    def _overlay_box(self) -> QGroupBox:
        box = QGroupBox("Overlay")
        form = QFormLayout(box)
        self.heatmap = QCheckBox("Heatmap")
        self.outline = QCheckBox("Outline NG regions")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        form.addRow(self.heatmap)
        form.addRow(self.outline)
        form.addRow("Opacity", self.opacity)
        form.addRow("Colormap", self.colormap)
        for signal in (self.heatmap.toggled, self.outline.toggled, self.opacity.valueChanged,
                       self.colormap.currentTextChanged):  # fmt: skip
            signal.connect(self._overlay_edited)
        return box

    def overlay(self) -> OverlayOptions:
        return OverlayOptions(self.heatmap.isChecked(), self.opacity.value() / 100.0,
                              self.colormap.currentText(), self.outline.isChecked())  # fmt: skip

    def set_overlay(self, options: OverlayOptions) -> None:
        self._quiet = True
        self.heatmap.setChecked(options.heatmap)
        self.outline.setChecked(options.outline)
        self.opacity.setValue(round(options.opacity * 100))
        self.colormap.setCurrentText(options.colormap)
        self._quiet = False

    def _overlay_edited(self, *_) -> None:
        if not self._quiet:
            self.overlayChanged.emit(self.overlay())

    # --- reject outputs ----------------------------------------------------------------------------

    def _reject_box(self) -> QGroupBox:
        box = QGroupBox("Reject outputs")
        form = QFormLayout(box)
        self.pulse = QCheckBox("Pulse camera output on reject (NG, not judged)")
        self.line = QLineEdit()
        self.line.setPlaceholderText("Line1")
        self.pulse_ms = QSpinBox()
        self.pulse_ms.setRange(1, 5000)
        self.pulse_ms.setSuffix(" ms")
        self.tcp = QCheckBox("Publish results (JSON lines, TCP)")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.host = QLineEdit()
        self.host.setToolTip("127.0.0.1 keeps the port local to this PC; 0.0.0.0 opens it to the network "
                             "(then a token is required)")  # fmt: skip
        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)  # never shown on screen
        self.token.setMaxLength(MAX_TOKEN_CHARS)
        self.token.setPlaceholderText("none (required beyond 127.0.0.1)")
        self.token.setToolTip("Clients send this as their first line before they receive results")
        form.addRow(self.pulse)
        form.addRow("Line", self.line)
        form.addRow("Pulse", self.pulse_ms)
        form.addRow(self.tcp)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("Token", self.token)
        self.apply_reject = QPushButton("Apply")
        self.apply_reject.clicked.connect(lambda: self.rejectChanged.emit(self.reject()))
        form.addRow(self.apply_reject)
        return box

    def reject(self) -> RejectConfig:
        """The settings shown, over those the box does not show (client cap, timeouts) as last set."""
        return replace(
            self._reject_base, pulse_enabled=self.pulse.isChecked(), line=self.line.text().strip() or "Line1",
            pulse_s=self.pulse_ms.value() / 1000.0, tcp_enabled=self.tcp.isChecked(),
            host=self.host.text().strip() or "127.0.0.1", port=self.port.value(), token=self.token.text().strip(),
        )  # fmt: skip

    def set_reject(self, config: RejectConfig) -> None:
        self._reject_base = config
        self.token.setText(config.token)
        self.pulse.setChecked(config.pulse_enabled)
        self.line.setText(config.line)
        self.pulse_ms.setValue(round(config.pulse_s * 1000))
        self.tcp.setChecked(config.tcp_enabled)
        self.host.setText(config.host)
        self.port.setValue(config.port)
