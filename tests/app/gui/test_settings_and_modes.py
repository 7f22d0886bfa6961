"""Settings that survive a restart; unreadable settings fall back to the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from app.gui.settings import GuiSettings, OverlayOptions
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
