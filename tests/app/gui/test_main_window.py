"""The live inspection window, offscreen, with real sources, a real model and a real trace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.ng_store import FRAME_SUFFIX
from app.state import AppState

pytestmark = pytest.mark.gui
WAIT = 20_000  # ms; generous for a loaded 2-core CI machine


def inspecting(window) -> bool:
    return window.station.state == AppState.INSPECTING and window.station.stats().inspected >= 2


def outlined(view) -> int:
    xs = view.outline.getData()[0]
    return 0 if xs is None else len(xs)


def test_defect_outlines_only_on_ng_parts(qtbot) -> None:
    """An OK part's map can touch the threshold at a few pixels (edges, the belt): no white outline there."""
    from app.gui.live_view import LiveView
    from app.pipeline.record import LiveResult
    from app.sources.base import Frame
    from draem_core.inspector import InspectionResult

    view = LiveView()
    qtbot.addWidget(view)
    amap = np.zeros((60, 80), np.float32)
    amap[20:30, 30:40] = 0.3  # above the threshold at a few pixels
    frame = Frame(np.zeros((60, 80, 3), np.uint8), 1, 0.0)
    for seq, is_ng in ((1, False), (2, True)):
        result = InspectionResult(amap, 0.1, 0.4, 0.2, "NG" if is_ng else "OK", None)
        assert view.show_live(LiveResult(seq, frame, result, None, 1.0, 1.0))
        assert (outlined(view) > 0) == is_ng


def test_folder_frames_reach_the_verdict_the_trace_and_ng_images(
    qtbot, make_window, image_folder: Path
) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    board = window.board
    qtbot.waitUntil(lambda: board.verdict.text == "OK", timeout=WAIT)
    # the counters follow on the 4 Hz statistics timer, up to a tick after the 30 Hz verdict
    qtbot.waitUntil(lambda: board.counters.inspected.value.text() not in ("–", "0"), timeout=WAIT)
    frame = window.latest().frame
    assert board.view.frame_item.image.shape == frame.image.shape  # the real frame is on screen
    assert board.view.heat_item.image.shape == frame.image.shape[:2]
    assert board.model.name.text() == window.station.inspector.meta.name

    score = window.latest().result.score
    window.controls.spin.setValue(round(score * 0.5, 4))  # the engineer raises the sensitivity
    qtbot.waitUntil(lambda: board.verdict.text == "NG", timeout=WAIT)
    assert window.latest().result.is_ng
    assert "NG" in board.verdict.verdict.text()
    assert outlined(board.view) > 0  # the NG part's defect region is outlined
    ng_folder = window.data_dir / "ng_images"
    qtbot.waitUntil(lambda: any(ng_folder.glob(f"*{FRAME_SUFFIX}")), timeout=WAIT)
    qtbot.waitUntil(lambda: board.trend.ng and board.trend.ng[-1], timeout=WAIT)

    window.station.trace.flush()
    db = sqlite3.connect(window.data_dir / "trace.sqlite")
    verdicts = {v for (v,) in db.execute("SELECT DISTINCT verdict FROM inspections")}
    assert verdicts == {"OK", "NG"}
    db.close()


def test_demo_line_out_of_the_box(qtbot, make_window) -> None:
    window = make_window()  # no source given, nothing in the settings: the demo line
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    assert window.station.source.name == "demo-line"
    assert window.camera_panel.current_spec() == "demo"
    assert window.latest().frame.label is not None  # demo frames carry their ground truth
    qtbot.waitUntil(lambda: window.board.verdict.text in ("OK", "NG"), timeout=WAIT)


def test_without_any_model_frames_show_with_a_clear_message(
    qtbot, make_window, image_folder, monkeypatch
) -> None:
    monkeypatch.setattr("app.gui.startup.bundled_model", lambda: Path("/nonexistent/demo.safetensors"))
    window = make_window(source=f"folder:{image_folder}", model=None)
    qtbot.waitUntil(
        lambda: window.station.state == AppState.LIVE and window.latest() is not None, timeout=WAIT
    )
    assert window.board.verdict.text == "NO MODEL"
    assert "No model loaded" in window.board.banner_text
    assert "no model found" in window.status.last_error
    assert not window.commands.by_name["start_inspection"].isEnabled() or window.station.inspector is None


def test_corrupt_model_keeps_the_previous_one(qtbot, make_window, image_folder, tiny_model, tmp_path) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    before = window.station.inspector
    corrupt = tmp_path / "broken.safetensors"
    corrupt.write_bytes(b"\x00" * 64)
    window.load_model(corrupt)
    qtbot.waitUntil(lambda: "broken.safetensors" in window.status.last_error, timeout=WAIT)
    assert window.station.inspector is before and window.station.model_path == tiny_model
    done = window.station.stats().inspected
    qtbot.waitUntil(lambda: window.station.stats().inspected > done, timeout=WAIT)  # still inspecting
    assert window.station.state == AppState.INSPECTING
    assert window.settings.model_path() == tiny_model  # the bad file is not remembered


def test_missing_model_at_start_is_reported(qtbot, make_window, image_folder, tmp_path) -> None:
    missing = tmp_path / "gone.safetensors"
    window = make_window(source=f"folder:{image_folder}", model=missing)
    qtbot.waitUntil(lambda: str(missing) in window.status.last_error, timeout=WAIT)
    qtbot.waitUntil(lambda: window.station.state == AppState.LIVE, timeout=WAIT)
    assert window.board.verdict.text == "NO MODEL"


def test_losing_the_source_shows_reconnecting_and_recovers(qtbot, make_window, image_folder) -> None:
    window = make_window(source=f"lossy:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    source = window.test_sources[-1]
    source.lost = True
    qtbot.waitUntil(lambda: window.station.state == AppState.RECONNECTING, timeout=WAIT)
    assert "reconnecting" in window.board.banner_text and "link down" in window.board.banner_text
    assert window.board.verdict.text == "NO SIGNAL"
    assert window.status.badge.text() == "RECONNECTING"
    source.lost = False
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING, timeout=WAIT)
    assert window.board.banner_text == ""
    done = window.station.stats().inspected
    qtbot.waitUntil(lambda: window.station.stats().inspected > done, timeout=WAIT)


def test_no_camera_is_an_error_state_not_a_crash(qtbot, make_window, image_folder, tmp_path) -> None:
    missing = tmp_path / "no-such-folder"
    window = make_window(source=f"folder:{missing}")
    qtbot.waitUntil(lambda: window.station.state == AppState.ERROR, timeout=WAIT)
    assert str(missing) in window.board.banner_text and "does not exist" in window.board.banner_text
    assert window.commands.by_name["connect"].isEnabled()
    assert not window.commands.by_name["start_inspection"].isEnabled()
    window.connect_source(f"folder:{image_folder}")  # the user picks another source
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)


def test_disk_full_pauses_ng_images_and_inspection_goes_on(
    qtbot, make_window, image_folder, tmp_path
) -> None:
    import errno

    from app.ng_store import NgStore, NgStoreConfig

    def full_disk(path, image):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    window = make_window(source=f"folder:{image_folder}", autostart=False)
    window.station.ng_store = NgStore(NgStoreConfig(tmp_path / "ng", retry_after_s=600), write=full_disk,
                                      on_error=window.errors)  # fmt: skip
    window.start_up()
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    window.set_threshold(window.latest().result.score * 0.5)  # every part NG: each wants an image
    qtbot.waitUntil(lambda: "disk full" in window.board.banner_text, timeout=WAIT)
    assert "inspection continues" in window.board.banner_text
    done = window.station.stats().inspected
    qtbot.waitUntil(lambda: window.station.stats().inspected > done + 1, timeout=WAIT)
    assert window.station.state == AppState.INSPECTING


def test_engineer_roi_limits_the_inspected_region(qtbot, make_window, image_folder) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    window.controls.roi_check.setChecked(True)
    roi = window.board.view.current_roi()
    assert roi is not None and window.station.roi == roi
    qtbot.waitUntil(
        lambda: window.latest() is not None and window.latest().result is not None and window.latest().result.roi == roi, timeout=WAIT
    )
    amap = window.latest().result.anomaly_map
    x, y, w, h = roi
    assert np.all(amap[:y] == 0) and amap[y : y + h, x : x + w].min() > 0


def test_retrain_action_opens_the_wizard_with_the_window_callbacks(qtbot, make_window, image_folder) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    window.commands.by_name["retrain"].trigger()
    wizard = getattr(window, "retrain_wizard", None)
    assert wizard is not None and wizard.isVisible(), window.status.last_error
    assert wizard.ctx.latest_frame() is not None
    wizard.close()


def test_gui_command_is_registered(capsys) -> None:
    from app.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["gui", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--source" in out and "--operator" in out and "--fullscreen" in out and "--model" in out


def test_no_display_is_one_line_not_an_abort(monkeypatch, capsys) -> None:
    from app.cli.main import main

    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2  # no command: the window, which cannot open here
    assert "no display" in capsys.readouterr().err


def test_a_models_own_region_is_inspected_and_outlined(qtbot, make_window, image_folder, region_model) -> None:
    from draem_core.modelfile import load_model

    roi = load_model(region_model)[1].roi
    window = make_window(source=f"folder:{image_folder}", model=region_model)
    qtbot.waitUntil(
        lambda: window.latest() is not None and window.latest().result is not None and window.latest().result.roi == roi, timeout=WAIT
    )
    amap = window.latest().result.anomaly_map
    x, y, w, h = roi
    assert np.all(amap[:y] == 0) and np.all(amap[:, x + w :] == 0) and amap[y : y + h, x : x + w].min() > 0
    view = window.board.view
    qtbot.waitUntil(lambda: view.region_shown() == roi, timeout=WAIT)
    xs, ys = view.region.getData()
    assert (min(xs), max(xs), min(ys), max(ys)) == (x, x + w, y, y + h)
    window.controls.roi_check.setChecked(True)  # the engineer's ROI overrides it, and its outline goes
    qtbot.waitUntil(lambda: view.region_shown() is None, timeout=WAIT)
    qtbot.waitUntil(lambda: window.latest().result.roi == view.current_roi(), timeout=WAIT)
