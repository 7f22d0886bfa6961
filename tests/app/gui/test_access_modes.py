"""Operator and engineer modes in the real window: no default password, locked on a missing or damaged hash, the
machine-wide file, the operator-actions setting, the wizard on the switch to operator, and the audit log."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from app.access.machine import write_machine_setting
from app.access.password import MIN_ITERATIONS, hash_password
from app.access.policy import ACTIONS_KEY, PASSWORD_KEY
from app.audit import current_user, read_events
from app.gui.dialogs import NewPasswordDialog, PasswordDialog
from app.state import AppState

pytestmark = pytest.mark.gui
WAIT = 30_000  # ms; the real 600,000-iteration hash takes a while on a loaded 2-core machine


def ini(path: Path) -> QSettings:
    return QSettings(str(path), QSettings.Format.IniFormat)


def events(window) -> list[tuple[str, str, str]]:
    """(role, action, value) of every audit event so far."""
    assert window.audit.log.flush()
    return [(e.role, e.action, e.value) for e in read_events(window.audit.log.path)]


def inspecting(window) -> bool:
    return window.station.state == AppState.INSPECTING and window.station.stats().inspected >= 2


def log_in(qtbot, window, password: str) -> None:
    """Engineer mode… in the toolbar, then the password in its dialog."""
    window.toggle_mode()
    qtbot.waitUntil(lambda: isinstance(window.modes.dialog, PasswordDialog), timeout=WAIT)
    window.modes.dialog.password.setText(password)
    window.modes.dialog.accept()
    qtbot.waitUntil(lambda: not window.modes.operator, timeout=WAIT)


def choose_first_password(qtbot, window, password: str) -> None:
    window.toggle_mode()
    qtbot.waitUntil(lambda: isinstance(window.modes.dialog, NewPasswordDialog), timeout=WAIT)
    dialog = window.modes.dialog
    dialog.new.setText(password)
    dialog.repeat.setText(password)
    dialog._try()  # the OK button
    qtbot.waitUntil(lambda: not window.modes.operator, timeout=WAIT)


def test_a_fresh_station_opens_in_operator_mode_and_the_first_engineer_sets_the_password(
    qtbot, make_window, settings_file
) -> None:
    window = make_window(autostart=False, engineer=False)
    assert window.modes.operator and window.status.mode.text() == "OPERATOR MODE"
    assert not any(dock.isVisible() for dock in window.docks) and not window.menuBar().isVisible()
    window.modes.enter_engineer("engineer")  # the old default opens nothing
    assert window.modes.operator and "no engineer password is set" in window.status.last_error

    window.toggle_mode()
    qtbot.waitUntil(lambda: isinstance(window.modes.dialog, NewPasswordDialog), timeout=WAIT)
    first = window.modes.dialog
    first.new.setText("abc")
    first.repeat.setText("abc")
    first._try()
    assert first.isVisible() and "at least 6 characters" in first.message.text()
    first.new.setText("plant-pw-7")
    first.repeat.setText("plant-pw-7")
    first._try()
    qtbot.waitUntil(lambda: not window.modes.operator, timeout=WAIT)
    assert all(dock.isVisible() for dock in window.docks) and window.menuBar().isVisible()
    assert ini(settings_file).value(PASSWORD_KEY).startswith("pbkdf2_sha256$600000$")
    assert "plant-pw-7" not in settings_file.read_text()

    window.toggle_mode()  # back to operator mode: no password needed
    window.modes.enter_engineer("engineer")
    qtbot.waitUntil(lambda: "wrong engineer password" in window.status.last_error, timeout=WAIT)
    assert window.modes.operator
    assert events(window) == [
        ("operator", "mode", "operator"),  # the start
        ("operator", "mode", "engineer refused"),
        ("operator", "password", "set"),
        ("operator", "mode", "engineer"),
        ("engineer", "mode", "operator"),
        ("operator", "mode", "engineer refused"),
    ]


def test_the_settings_file_cannot_open_engineer_mode(qtbot, make_window, settings_file, engineer) -> None:
    store = ini(settings_file)
    engineer.store(store)
    store.setValue("mode/operator", False)  # what used to give engineer access
    store.sync()
    window = make_window(autostart=False, engineer=False)
    assert window.modes.operator and not window.commands.by_name["load_model"].isVisible()
    assert window.createPopupMenu() is None  # no right-click way back to the hidden panels
    assert not window.board.trend.threshold_line.movable


def test_a_missing_or_damaged_hash_locks_engineer_mode_until_it_recovers_it(
    qtbot, make_window, settings_file, machine_file, tmp_path, monkeypatch
) -> None:
    from app.cli.main import main

    first = make_window(autostart=False, engineer=False)
    choose_first_password(qtbot, first, "plant-pw-7")
    first.close()

    lines = [line for line in settings_file.read_text().splitlines() if not line.startswith("engineer_password")]
    settings_file.write_text("\n".join(lines) + "\n")  # the hash deleted to get the old default back
    window = make_window(autostart=False, engineer=False)
    window.toggle_mode()
    assert window.modes.dialog is None and window.modes.operator
    assert "engineer mode is locked" in window.status.last_error and "removed" in window.status.last_error
    window.close()

    settings_file.unlink()  # the whole settings file deleted: the audit log remembers a password was set
    window = make_window(autostart=False, engineer=False)
    window.toggle_mode()
    qtbot.waitUntil(lambda: "audit log" in window.status.last_error, timeout=WAIT)
    assert window.modes.dialog is None and window.modes.operator
    window.close()

    ini(settings_file).setValue(PASSWORD_KEY, "pbkdf2_sha256$600000$00$00")  # damaged
    window = make_window(autostart=False, engineer=False)
    window.toggle_mode()
    assert "damaged" in window.status.last_error and window.modes.operator
    window.close()

    monkeypatch.setattr("sys.stdin", io.StringIO("it-recovery-7\n"))  # IT, with the machine-wide rights
    db = tmp_path / "data" / "trace.sqlite"
    assert main(["access", "--file", str(machine_file), "--db", str(db), "set-password", "--password-stdin"]) == 0
    window = make_window(autostart=False, engineer=False)
    log_in(qtbot, window, "it-recovery-7")
    assert ("cli", "password", "set machine-wide") in events(window)


def test_the_machine_wide_file_decides_what_it_holds(
    qtbot, make_window, settings_file, machine_file, engineer
) -> None:
    write_machine_setting(machine_file, PASSWORD_KEY, hash_password("it-pw-123", iterations=MIN_ITERATIONS))
    write_machine_setting(machine_file, ACTIONS_KEY, "stop_inspection")
    store = ini(settings_file)
    engineer.store(store)
    store.setValue(ACTIONS_KEY, "reset_counters,start_inspection")  # the per-user file cannot override it
    store.sync()
    window = make_window(autostart=False, engineer=False)
    actions = window.commands.by_name
    assert actions["stop_inspection"].isVisible() and not actions["reset_counters"].isVisible()
    assert not actions["start_inspection"].isVisible() and not window.board.counters.reset.isVisible()

    window.modes.enter_engineer(engineer.password)  # the per-user password no longer opens it
    qtbot.waitUntil(lambda: "wrong engineer password" in window.status.last_error, timeout=WAIT)
    log_in(qtbot, window, "it-pw-123")
    dialog = window.modes.edit_operator_actions()
    assert not any(box.isEnabled() for box in dialog.boxes.values())
    dialog.reject()
    assert window.modes.change_password() is None and "machine-wide" in window.status.last_error


def test_operators_get_only_the_actions_the_setting_allows(qtbot, make_window, image_folder, engineer) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    window.toggle_mode()
    actions = window.commands.by_name
    assert not actions["stop_inspection"].isVisible() and not actions["reset_counters"].isVisible()
    assert not window.board.counters.reset.isVisible() and window.commands.trigger.isVisible()
    done = window.station.stats().inspected
    actions["stop_inspection"].trigger()  # a shortcut or a stale button is refused too
    window.reset_counters()
    assert window.station.state == AppState.INSPECTING and window.station.stats().inspected >= done

    log_in(qtbot, window, engineer.password)
    dialog = window.modes.edit_operator_actions()
    dialog.boxes["reset_counters"].setChecked(True)
    dialog.accept()
    window.toggle_mode()
    assert window.board.counters.reset.isVisible() and actions["reset_counters"].isVisible()
    before = window.station.stats().inspected
    window.board.counters.reset.click()
    assert window.station.stats().inspected < before
    assert ("engineer", "operator_actions", "reset_counters,select_recipe,start_inspection,trigger") in events(window)
    assert ("operator", "counters", "reset") in events(window)


def test_switching_to_operator_closes_the_wizard(qtbot, make_window, tiny_model) -> None:
    window = make_window(autostart=False)
    window.commands.by_name["retrain"].trigger()
    wizard = window.retrain_wizard
    assert wizard.isVisible()
    window.toggle_mode()
    assert not wizard.isVisible() and not wizard.suspended  # nothing was training: closed for good
    wizard.ctx.deploy(tiny_model)  # even a wizard kept alive could not swap the model now
    assert "operator mode" in window.status.last_error and window.station.model_path is None
    window.open_retrain_wizard()
    assert "for engineers" in window.status.last_error and not wizard.isVisible()


@pytest.mark.slow
def test_the_wizards_training_keeps_running_after_the_switch(
    qtbot, make_window, ball_screw, tmp_path, engineer
) -> None:
    from app.retrain.plan import RetrainPlan

    window = make_window(autostart=False)
    window.open_retrain_wizard()
    wizard = window.retrain_wizard
    images = sorted((ball_screw / "train" / "good").glob("*.jpg"))
    plan = RetrainPlan(dataset=tmp_path / "ds", images=images, preset="micro", size=(64, 160), budget=100_000,
                       batch_size=2, device="cpu", checkpoint_every=100_000)  # fmt: skip
    runner = wizard.runner
    runner.start(plan.to_train_plan(tmp_path / "ds" / "run.safetensors"))
    try:
        qtbot.waitUntil(lambda: runner.poll() is not None and runner.last_step >= 1, timeout=120_000)
        window.toggle_mode()
        assert not wizard.isVisible() and wizard.suspended and runner.running
        at_switch = runner.last_step
        qtbot.waitUntil(lambda: runner.poll() is not None and runner.last_step > at_switch + 1, timeout=120_000)
        log_in(qtbot, window, engineer.password)
        window.open_retrain_wizard()  # the same wizard comes back, still following its run
        assert window.retrain_wizard is wizard and wizard.isVisible() and runner.running
    finally:
        runner.kill()


def test_the_audit_log_records_who_changed_what_and_exports_from_the_file_menu(
    qtbot, make_window, image_folder, tmp_path, tiny_model
) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: inspecting(window), timeout=WAIT)
    before = window.station.threshold
    for value in (0.41, 0.42, 0.43):  # a drag: one event once it settles
        window.set_threshold(value)
    window.audit.settle()
    window.set_mode("software")
    from app.recipes import CameraEntry, Recipe, RecipeStore

    RecipeStore(window.data_dir / "recipes").save(Recipe("flange-B", (CameraEntry(0, model_file=str(tiny_model)),)))
    window.set_recipe("flange-B")
    qtbot.waitUntil(lambda: window.station.recipe == "flange-B", timeout=WAIT)
    window.set_reject(window.station.reject_config)
    seen = {(action, value) for _, action, value in events(window)}
    assert ("threshold", "0.43") in seen and ("acquisition", "software") in seen and ("recipe", "flange-B") in seen
    assert ("model", "") not in seen and any(action == "model" for action, _ in seen)
    assert any(action == "outputs" and "tcp_enabled=False" in value for action, value in seen)
    threshold = next(e for e in read_events(window.audit.log.path) if e.action == "threshold")
    assert threshold.previous == f"{before:.6g}" and threshold.user == current_user()
    assert threshold.role == "engineer" and threshold.detail == str(tiny_model)

    out = tmp_path / "exports" / "audit.csv"

    def fill_in() -> None:
        dialog = QApplication.activeModalWidget()
        dialog.out.setText(str(out))
        dialog.start.setDateTime(dialog.start.dateTime().addDays(-1))
        dialog.end.setDateTime(dialog.end.dateTime().addDays(1))
        dialog.accept()

    QTimer.singleShot(200, fill_in)
    window.commands.export_audit.trigger()  # File ▸ Export audit log…
    qtbot.waitUntil(lambda: "audit events to" in window.status.last_message, timeout=WAIT)
    rows = list(csv.DictReader(out.open()))
    assert {"threshold", "acquisition", "recipe", "outputs", "model", "mode"} <= {r["action"] for r in rows}
