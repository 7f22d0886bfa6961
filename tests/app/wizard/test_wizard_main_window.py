"""The wizard opened from the live window: Deploy swaps the new version into the running inspection without a
restart, and rollback swaps the old one back (checked on the verdicts' model version)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.registry import ModelRegistry
from app.state import AppState

pytestmark = [pytest.mark.gui]
WAIT = 30_000  # ms; generous for a loaded 2-core CI machine


def _version(window) -> str:
    live = window.station.latest()
    return live.record.model_version if live is not None and live.record is not None else ""


def test_deploy_and_rollback_reach_the_live_inspection(qtbot, tmp_path: Path, good_paths: list[Path],
                                                       tiny_model: Path) -> None:  # fmt: skip
    from PySide6.QtCore import QSettings

    from app.access.password import MIN_ITERATIONS, hash_password
    from app.access.policy import PASSWORD_KEY
    from app.gui.main_window import MainWindow
    from app.gui.startup import LaunchOptions
    from app.sources.factory import open_source
    from app.wizard.wizard import DEPLOY

    folder = tmp_path / "line"
    folder.mkdir()
    for p in good_paths[:3]:
        shutil.copy(p, folder / p.name)
    registry = ModelRegistry(tmp_path / "data" / "models")
    old = registry.activate(registry.add(tiny_model).id)
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    settings.setValue(PASSWORD_KEY, hash_password("line-engineer", iterations=MIN_ITERATIONS))
    window = MainWindow(LaunchOptions(source=f"folder:{folder}", model=old.model_path), settings=settings,
                        source_factory=lambda spec: open_source(spec, fps=15.0), discover=None,
                        data_dir=tmp_path / "data", device="cpu", machine_settings=tmp_path / "access.ini")  # fmt: skip
    qtbot.addWidget(window)
    window.show()
    window.modes.enter_engineer("line-engineer")  # the window starts in operator mode; deploying is for engineers
    qtbot.waitUntil(lambda: not window.modes.operator, timeout=WAIT)
    qtbot.waitUntil(
        lambda: window.station.state == AppState.INSPECTING and _version(window) == old.id, timeout=WAIT
    )

    window.open_retrain_wizard()  # what the "Retrain…" menu action does
    wizard = window.retrain_wizard
    assert wizard.ctx.registry.root == registry.root
    wizard.plan.model_out = tiny_model  # a finished run (the walk test trains one); go straight to Deploy
    wizard.setStartId(DEPLOY)
    wizard.restart()
    wizard.deploy_page.deploy_btn.click()
    qtbot.waitUntil(lambda: registry.active_id() == "v0002", timeout=WAIT)
    qtbot.waitUntil(
        lambda: _version(window) == "v0002", timeout=WAIT
    )  # judged by the new version, no restart
    assert window.station.state == AppState.INSPECTING

    wizard.deploy_page.reactivate(old.id)
    qtbot.waitUntil(lambda: _version(window) == old.id, timeout=WAIT)  # rolled back on the line
    assert registry.active_id() == old.id
    wizard.close()
