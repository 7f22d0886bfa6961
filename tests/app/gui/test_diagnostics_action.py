"""Help → Save diagnostics…: the zip is written by a worker while the window runs; the password hash stays out."""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path

import pytest

from app.diagnostics import REDACTED

pytestmark = pytest.mark.gui


def test_help_menu_saves_diagnostics_off_the_gui_thread(make_window, qtbot, tmp_path: Path, monkeypatch) -> None:
    from app.access.password import hash_password
    from app.access.policy import PASSWORD_KEY
    from app.gui.diagnostics_action import save_diagnostics

    threads = []
    monkeypatch.setattr("app.diagnostics.camera_list",  # the camera search has its own test; here: which thread
                        lambda _t: threads.append(threading.current_thread()) or {"cameras": []})  # fmt: skip
    window = make_window(source=None)
    qtbot.waitUntil(lambda: "in use" in (window.status.last_message or ""), timeout=60_000)  # model loaded
    window.settings.store.setValue(PASSWORD_KEY, hash_password("line-7-pw", iterations=1000))
    menus = {action.text(): action.menu() for action in window.menuBar().actions()}
    assert window.commands.diagnostics in menus["&Help"].actions()
    out = tmp_path / "gui-diag.zip"
    save_diagnostics(window, out)
    qtbot.waitUntil(out.exists, timeout=60_000)
    qtbot.waitUntil(lambda: "diagnostics saved" in (window.status.last_message or ""), timeout=10_000)
    with zipfile.ZipFile(out) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    settings = json.loads(files["settings.json"])
    assert settings["security/engineer_password"] == REDACTED and "line-7-pw" not in files["settings.json"].decode()
    assert json.loads(files["manifest.json"])["data_dir"] == str(window.data_dir)
    assert threads and threads[0] is not threading.main_thread()
