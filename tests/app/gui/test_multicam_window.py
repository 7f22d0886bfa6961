"""The window with several cameras: a tile per camera, the part's verdict large, a lost camera in its own tile
while the other goes on, per-camera thresholds kept in the settings with the whole station, and the retrain
wizard working on the camera chosen in it. Real folder sources and a real model, offscreen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.gui.settings import GuiSettings
from app.registry import ModelRegistry
from app.state import AppState

pytestmark = pytest.mark.gui
WAIT = 30_000  # ms; generous for a loaded 2-core CI machine


@pytest.fixture()
def second_folder(tmp_path: Path, good_paths: list[Path]) -> Path:
    folder = tmp_path / "line2"
    folder.mkdir()
    for p in good_paths[3:6]:
        shutil.copy(p, folder / p.name)
    return folder


def both_inspecting(window) -> bool:
    stats = window.station.camera_stats()
    return window.station.state == AppState.INSPECTING and len(stats) == 2 and min(s.inspected for s in stats) >= 2


def test_one_camera_keeps_the_single_view(qtbot, make_window, image_folder: Path) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING, timeout=WAIT)
    assert window.board.tiles is None and window.board.view.parent() is not None
    assert not window.controls.camera_row.isVisibleTo(window.controls)


def test_two_cameras_tiles_a_lost_camera_and_the_part_verdict(qtbot, make_window, image_folder: Path,
                                                              second_folder: Path, settings_file: Path,
                                                              tiny_model: Path) -> None:  # fmt: skip
    window = make_window(sources=(f"folder:{image_folder}", f"lossy:{second_folder}"))
    qtbot.waitUntil(lambda: both_inspecting(window) and window.board.tiles is not None, timeout=WAIT)
    tiles = window.board.tiles.tiles
    assert len(tiles) == 2 and tiles[0].view is window.board.view  # camera 1's tile holds the main view
    qtbot.waitUntil(lambda: tiles[1].view.frame_item.image is not None and tiles[1].badge.text() in ("OK", "NG"),
                    timeout=WAIT)  # fmt: skip
    assert window.controls.camera_row.isVisibleTo(window.controls) and window.controls.camera.count() == 2

    window.cams.choose(1)  # the engineer picks camera 2 in the Inspection controls and makes it strict
    window.set_threshold(1e-4)
    calibrated = window.station.inspector.calibration.threshold
    assert window.station.threshold_of(1) == pytest.approx(1e-4)
    assert window.station.threshold_of(0) == pytest.approx(calibrated)
    store = GuiSettings(QSettings(str(settings_file), QSettings.Format.IniFormat))
    assert store.threshold_for(tiny_model, 1) == pytest.approx(1e-4) and store.threshold_for(tiny_model) is None

    states = []
    window.session.stateChanged.connect(lambda status: states.append(status.state))
    window.test_sources[1].lost = True  # camera 2's link is pulled: its tile says so, camera 1 goes on
    qtbot.waitUntil(lambda: tiles[1].lost.isVisibleTo(tiles[1]) and tiles[1].badge.text() == "NO SIGNAL",
                    timeout=WAIT)  # fmt: skip
    shown = tiles[0].view._seq
    qtbot.waitUntil(lambda: tiles[0].view._seq > shown + 2, timeout=WAIT)
    assert window.station.state == AppState.INSPECTING and "connection lost" in window.board.banner_text
    assert AppState.RECONNECTING not in states  # the station never stopped for one camera of two
    window.test_sources[1].lost = False
    qtbot.waitUntil(lambda: not tiles[1].lost.isVisibleTo(tiles[1]) and window.board.banner_text == "",
                    timeout=WAIT)  # fmt: skip

    window.set_mode("software")
    qtbot.waitUntil(lambda: all(c.source.slot.triggered for c in window.station.cameras), timeout=WAIT)
    window.trigger("SN-7")
    verdict = window.board.verdict
    qtbot.waitUntil(lambda: verdict.score.text() == "part SN-7", timeout=WAIT)
    names = [c.pipeline.camera_id for c in window.station.cameras]
    assert verdict.text == "NG" and all(name in verdict.detail.text() for name in names)  # camera 2 rejects it
    window.close()

    again = make_window()  # the settings hold the whole station: both sources, camera 2's own threshold, the mode
    qtbot.waitUntil(lambda: again.station.state == AppState.INSPECTING and len(again.station.cameras) == 2,
                    timeout=WAIT)  # fmt: skip
    assert again.station.mode.value == "software" and again.board.tiles is not None
    assert list(again.station.specs) == [f"folder:{image_folder}", f"lossy:{second_folder}"]
    qtbot.waitUntil(lambda: again.station.threshold_of(1) == pytest.approx(1e-4), timeout=2 * WAIT)  # 2nd model load
    assert again.station.threshold_of(0) == pytest.approx(calibrated)


def test_the_wizard_retrains_the_chosen_camera(qtbot, make_window, image_folder: Path, second_folder: Path,
                                               tmp_path: Path, tiny_model: Path) -> None:  # fmt: skip
    from app.wizard.wizard import DEPLOY

    window = make_window(sources=(f"folder:{image_folder}", f"folder:{second_folder}"))
    qtbot.waitUntil(lambda: both_inspecting(window), timeout=WAIT)
    window.open_retrain_wizard()
    wizard = window.retrain_wizard
    combo = wizard.collect_page.camera_box
    assert combo.count() == 2
    combo.setCurrentIndex(1)
    assert wizard.ctx.camera == 1
    qtbot.waitUntil(lambda: wizard.ctx.latest() is not None, timeout=WAIT)
    assert str(second_folder) in wizard.ctx.latest().frame.source_id  # camera 2's frames are collected

    new_model = tmp_path / "retrained.safetensors"
    shutil.copy(tiny_model, new_model)
    wizard.plan.model_out = new_model  # a finished run (the walk test trains one); go straight to Deploy
    wizard.setStartId(DEPLOY)
    wizard.restart()
    wizard.deploy_page.deploy_btn.click()
    registry = ModelRegistry(window.data_dir / "models")
    qtbot.waitUntil(lambda: len(registry.versions()) == 1, timeout=WAIT)
    version = registry.versions()[0]
    qtbot.waitUntil(lambda: window.station.model_of(1) == version.model_path, timeout=WAIT)
    assert window.station.model_of(0) == tiny_model  # camera 1 keeps its model
    assert registry.active_id() is None  # the registry's active version (camera 1's model) is left alone
    wizard.reject()
