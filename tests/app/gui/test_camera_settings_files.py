"""Camera settings files from the window (engineer mode) against the simulated GenTL camera.

The file dialogs are the one thing replaced (they would wait for a person); the camera, its acquisition
process, the files and the window are real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.state import AppState

pytestmark = [pytest.mark.gui, pytest.mark.camera]
WAIT = 30_000


def type_value(features, name: str, value: str) -> None:
    """The engineer types ``value`` into the feature's cell (search first, as in the window)."""
    features.search.setText(name)
    tree = features.tree
    item = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                if tree.topLevelItem(i).data(0, 256) == name)  # fmt: skip
    item.setText(1, value)


def frame_width(window) -> int:
    live = window.latest()
    return live.frame.image.shape[1] if live is not None else 0


def dialog_answers(monkeypatch, save: Path | None = None, load: Path | None = None) -> None:
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(save), "") if save else ("", ""))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(load), "") if load else ("", ""))


@pytest.fixture
def live_sim(qtbot, make_window, monkeypatch):
    monkeypatch.setattr("app.gui.startup.bundled_model", lambda: Path("/nonexistent/demo.safetensors"))
    window = make_window(source="sim", model=None)
    qtbot.waitUntil(lambda: window.station.state == AppState.LIVE and frame_width(window) > 0, timeout=WAIT)
    qtbot.waitUntil(lambda: window.features.tree_data is not None, timeout=WAIT)
    return window


def test_settings_saved_and_loaded_from_the_feature_panel(qtbot, live_sim, monkeypatch, tmp_path) -> None:
    window, features = live_sim, live_sim.features
    assert features.save_button.isEnabled() and features.load_button.isEnabled()
    type_value(features, "Width", "320")
    qtbot.waitUntil(lambda: frame_width(window) == 320, timeout=WAIT)

    dialog_answers(monkeypatch, save=tmp_path / "line1")  # the engineer typed no extension
    features.save_button.click()
    saved = tmp_path / "line1.json"
    qtbot.waitUntil(lambda: features.note.text() == "saved line1.json", timeout=WAIT)
    assert ["Width", 320] in json.loads(saved.read_text())["features"]

    type_value(features, "Width", "500")
    qtbot.waitUntil(lambda: frame_width(window) == 500, timeout=WAIT)
    dialog_answers(monkeypatch, load=saved)
    features.load_button.click()
    # the click returned at once: the camera work runs in the background
    assert not features.load_button.isEnabled() and features.note.text().startswith("loading camera settings")
    qtbot.waitUntil(lambda: frame_width(window) == 320, timeout=WAIT)
    qtbot.waitUntil(lambda: features.note.text() == "loaded line1.json", timeout=WAIT)
    assert features.tree_data.features["Width"].value == 320  # the tree shows what the camera has now
    assert features.load_button.isEnabled()


def test_refused_features_and_bad_files_reach_the_error_sink(qtbot, live_sim, monkeypatch, tmp_path) -> None:
    window, features = live_sim, live_sim.features
    path = tmp_path / "other.json"
    features_ = [["Width", 256], ["NoSuchFeature", 1], ["Height", 5000]]
    doc = {"format": "draem-inspect camera settings", "version": 1, "features": features_}
    path.write_text(json.dumps(doc))
    dialog_answers(monkeypatch, load=path)
    features.load_button.click()
    qtbot.waitUntil(lambda: frame_width(window) == 256, timeout=WAIT)
    qtbot.waitUntil(lambda: features.note.text().startswith("loaded other.json"), timeout=WAIT)
    assert features.note.text() == "loaded other.json; the camera refused NoSuchFeature, Height"
    notice = window.errors.notices[-1]
    assert notice.where == "camera settings"
    assert notice.message.startswith("other.json: the camera refused 2 feature(s): NoSuchFeature: this")
    assert "Height: 5000 is above the maximum 800" in notice.message

    path.write_text('{"format": "something else"}')
    features.load_button.click()
    qtbot.waitUntil(lambda: features.note.text().startswith("loading camera settings failed"), timeout=WAIT)
    assert "not a camera settings file" in window.errors.notices[-1].message
    assert features.load_button.isEnabled()


def test_settings_buttons_are_engineer_only(qtbot, live_sim) -> None:
    window, features = live_sim, live_sim.features
    window.modes.set_operator(True)
    assert not features.save_button.isVisible() and not features.load_button.isVisible()
    window.modes.set_operator(False)
    window.docks[2].raise_()  # the feature panel's tab
    qtbot.waitUntil(features.save_button.isVisible, timeout=WAIT)
    features.set_source(None)
    assert not features.save_button.isEnabled() and not features.load_button.isEnabled()
