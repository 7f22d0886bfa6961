"""Settings that survive a restart; unreadable settings fall back to the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLineEdit

from app.gui.inspection_controls import InspectionControls
from app.gui.settings import GuiSettings, OverlayOptions
from app.reject import RejectConfig
from app.state import AppState

pytestmark = pytest.mark.gui
WAIT = 20_000


def test_settings_survive_a_restart(
    qtbot, make_window, image_folder: Path, tiny_model: Path, settings_file
) -> None:
    first = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: first.station.state == AppState.INSPECTING, timeout=WAIT)
    first.controls.set_overlay(OverlayOptions(heatmap=True, opacity=0.35, colormap="magma", outline=False))
    first.controls.overlayChanged.emit(first.controls.overlay())
    first.controls.spin.setValue(0.4321)
    first.controls.roi_check.setChecked(True)
    first.board.view.roi.setPos((40, 30))
    first.board.view.roi.setSize((200, 120))  # emits roiChanged when finished
    first.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, first.docks[2])  # the engineer moves a panel
    roi = first.board.view.current_roi()
    first.close()

    second = make_window()  # no options: everything comes from the settings file
    assert second.camera_panel.current_spec() == f"folder:{image_folder}"
    assert second.controls.overlay() == OverlayOptions(True, 0.35, "magma", False)
    assert second.board.view.options.colormap == "magma" and not second.board.view.outline.isVisible()
    assert second.controls.roi_check.isChecked() and second.station.roi == roi
    assert second.dockWidgetArea(second.docks[2]) == Qt.DockWidgetArea.RightDockWidgetArea
    qtbot.waitUntil(lambda: second.station.state == AppState.INSPECTING, timeout=WAIT)
    assert second.station.model_path == tiny_model
    qtbot.waitUntil(lambda: second.station.pipeline.threshold == pytest.approx(0.4321), timeout=WAIT)
    assert second.controls.spin.value() == pytest.approx(0.4321)


def test_unreadable_settings_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "bad.ini"
    path.write_text("[overlay]\nopacity=lots\ncolormap=rainbow\n[inspection]\nroi=1,2,x\n")
    settings = GuiSettings(QSettings(str(path), QSettings.Format.IniFormat))
    assert settings.overlay() == OverlayOptions()
    assert settings.roi() is None and settings.source_spec() == ""


def test_the_stream_token_survives_a_restart_and_is_never_shown(qtbot, tmp_path: Path) -> None:
    path = str(tmp_path / "s.ini")
    config = RejectConfig(tcp_enabled=True, host="0.0.0.0", port=5021, token="plc-7-secret", max_clients=4)
    first = GuiSettings(QSettings(path, QSettings.Format.IniFormat))
    first.set_reject(config)
    first.sync()
    again = GuiSettings(QSettings(path, QSettings.Format.IniFormat)).reject()
    assert again == config and "plc-7-secret" not in repr(again)
    controls = InspectionControls()
    qtbot.addWidget(controls)
    controls.set_reject(again)
    assert controls.token.echoMode() == QLineEdit.EchoMode.Password
    assert controls.reject() == config  # the box gives back what it does not show (the client cap) as it was
    controls.token.setText("other")
    assert controls.reject().token == "other"


def test_one_line_names_the_settings_file_and_its_unusable_values(tmp_path: Path) -> None:
    path = tmp_path / "odd.ini"
    path.write_text("[overlay]\nopacity=nan\n[reject]\nport=99999\npulse_s=inf\nhost=a, b\n")
    settings = GuiSettings(QSettings(str(path), QSettings.Format.IniFormat))
    assert settings.reject() == RejectConfig() and settings.overlay() == OverlayOptions()
    assert settings.problem() == (f"settings {path}: 4 unusable value(s) replaced by the defaults: overlay/opacity, "
                                  "reject/host, reject/port, reject/pulse_s")  # fmt: skip



def test_the_inference_backend_is_an_engineer_setting_that_survives_a_restart(qtbot, make_window, image_folder: Path,
                                                                               settings_file) -> None:  # fmt: skip
    first = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: first.station.state == AppState.INSPECTING, timeout=WAIT)
    assert first.controls.backend.currentText() == "torch" and first.station.inspector.backend.spec.name == "torch"
    first.controls.backend.setCurrentText("onnxruntime")
    first.controls.backend.activated.emit(first.controls.backend.currentIndex())
    qtbot.waitUntil(lambda: first.station.inspector.backend.spec.name == "onnxruntime", timeout=WAIT)
    qtbot.waitUntil(lambda: first.controls.backend_in_use.text() == "running on onnxruntime", timeout=WAIT)
    shown = first.station.stats().inspected
    qtbot.waitUntil(lambda: first.station.stats().inspected > shown + 2, timeout=WAIT)  # still judging
    first.set_backend_calibration(image_folder)
    assert first.controls.calibration.text() == str(image_folder)
    qtbot.waitUntil(lambda: first.station.config.backend_calibration == image_folder, timeout=WAIT)
    first.modes.enter_operator()
    first.set_backend("torch")  # operators cannot change it
    assert first.station.config.backend == "onnxruntime"
    first.close()

    again = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: again.station.inspector is not None, timeout=WAIT)
    assert again.station.config.backend == "onnxruntime" and again.controls.backend.currentText() == "onnxruntime"
    assert again.station.inspector.backend.spec.name == "onnxruntime"
    assert again.station.config.backend_calibration == image_folder and again.controls.calibration.text()
