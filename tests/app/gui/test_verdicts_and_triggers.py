"""The window over the station's verdict contract: NOT JUDGED shown and counted, triggers from the toolbar."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from app.state import AppState

pytestmark = pytest.mark.gui
WAIT = 20_000  # ms; generous for a loaded 2-core CI machine


def wide_region_model(path: Path) -> Path:
    """A real model whose inspection region does not fit the test frames: every frame is refused."""
    from app.selftest import make_test_model
    from draem_core.modelfile import MODEL_FORMAT, ModelMetadata, read_file, rewrite_metadata

    tensors, doc = read_file(make_test_model(path), MODEL_FORMAT)
    return rewrite_metadata(path, tensors, replace(ModelMetadata.from_dict(doc), roi=(0, 0, 5000, 5000)))


def test_a_refused_frame_shows_not_judged_and_is_counted_and_traced(qtbot, make_window, image_folder,
                                                                     tmp_path) -> None:  # fmt: skip
    window = make_window(source=f"folder:{image_folder}", model=wide_region_model(tmp_path / "wide.safetensors"))
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING, timeout=WAIT)
    qtbot.waitUntil(lambda: window.board.verdict.text == "NOT JUDGED", timeout=WAIT)
    assert "region outside the frame" in window.board.verdict.detail.text()
    qtbot.waitUntil(lambda: window.board.counters.not_judged.value.text() not in ("–", "0"), timeout=WAIT)
    assert window.board.counters.ng.value.text() == "0" and window.board.counters.yield_.value.text() == "0.0 %"
    window.station.trace.flush()
    rows = sqlite3.connect(window.data_dir / "trace.sqlite").execute("SELECT verdict, reason FROM inspections").fetchall()
    assert rows and all(v == "NOT_JUDGED" and r.startswith("region outside the frame") for v, r in rows)


def test_software_triggers_from_the_window_each_get_one_traced_verdict(qtbot, make_window, image_folder) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING, timeout=WAIT)
    assert not window.commands.trigger.isEnabled()  # free run: nothing to trigger
    window.controls.parts.modeChosen.emit("software")
    qtbot.waitUntil(lambda: window.station.source.slot.triggered, timeout=WAIT)
    assert window.commands.trigger.isEnabled()
    window.controls.parts.part_id.setText("SN-42")
    window.controls.parts.trigger.click()  # with the part id
    for _ in range(2):
        window.commands.trigger.trigger()  # the toolbar button, operator mode too
    window.station.trace.flush()

    def triggered() -> list:
        window.station.trace.flush()
        db = sqlite3.connect(window.data_dir / "trace.sqlite")
        rows = db.execute("SELECT trigger, part_id, verdict FROM inspections WHERE trigger > 0 ORDER BY trigger").fetchall()
        db.close()
        return rows

    qtbot.waitUntil(lambda: len(triggered()) == 3, timeout=WAIT)
    rows = triggered()
    assert [r[0] for r in rows] == [1, 2, 3] and rows[0][1] == "SN-42"
    assert all(v in ("OK", "NG") for _, _, v in rows)
    assert "trigger 1" in window.controls.parts.note.text() or "trigger 3" in window.controls.parts.note.text()
    assert window.settings.acquisition_mode() == "software"


def test_a_corrupt_registry_is_a_banner_never_a_silent_demo_model(qtbot, make_window, image_folder, tmp_path) -> None:
    from app.registry import ACTIVE_FILE

    registry = tmp_path / "data" / "models"
    registry.mkdir(parents=True)
    (registry / ACTIVE_FILE).write_text("{not json")
    window = make_window(source=f"folder:{image_folder}", model=None)
    qtbot.waitUntil(lambda: window.station.state == AppState.LIVE, timeout=WAIT)
    qtbot.waitUntil(lambda: "no model was loaded" in window.board.banner_text, timeout=WAIT)
    assert str(registry) in window.board.banner_text and window.station.inspector is None
    assert window.board.verdict.text == "NO MODEL"
