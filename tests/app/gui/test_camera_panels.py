"""Camera panel and feature tree against the simulated GenTL camera (real acquisition process)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.state import AppState

pytestmark = [pytest.mark.gui, pytest.mark.camera]
WAIT = 30_000


def test_simulated_camera_features_are_listed_searched_and_edited(qtbot, make_window, monkeypatch) -> None:
    # no model at all (not even the bundled one): the camera is live, not inspected
    monkeypatch.setattr("app.gui.startup.bundled_model", lambda: Path("/nonexistent/demo.safetensors"))
    window = make_window(source="sim", model=None)
    qtbot.waitUntil(
        lambda: window.station.state == AppState.LIVE and window.latest() is not None, timeout=WAIT
    )
    panel, features = window.camera_panel, window.features
    qtbot.waitUntil(lambda: features.tree_data is not None, timeout=WAIT)
    assert (
        panel.frame_rate.isEnabled() and not panel.exposure.isEnabled()
    )  # the simulator has no exposure node
    assert "no exposure" in panel.controls_note.text()

    features.search.setText("Width")
    names = [features.tree.topLevelItem(i).data(0, 256) for i in range(features.tree.topLevelItemCount())]
    assert "Width" in names
    features.level.setCurrentText("Beginner")
    beginner = features.tree.topLevelItemCount()
    features.level.setCurrentText("Guru")
    assert features.tree.topLevelItemCount() >= beginner

    item = next(features.tree.topLevelItem(i) for i in range(features.tree.topLevelItemCount())
                if features.tree.topLevelItem(i).data(0, 256) == "Width")  # fmt: skip
    item.setText(1, "320")  # the engineer types a new width
    qtbot.waitUntil(lambda: window.latest() is not None and window.latest().frame.image.shape[1] == 320,
                    timeout=WAIT)  # fmt: skip
    assert item.text(1) == "320"

    panel.frame_rate.setValue(10.0)
    panel.frame_rate.editingFinished.emit()
    qtbot.waitUntil(lambda: 0 < window.station.stats().camera_fps < 13, timeout=WAIT)
