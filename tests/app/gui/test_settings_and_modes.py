"""Settings that survive a restart, operator/engineer modes and the engineer password."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLineEdit

from app.gui.inspection_controls import InspectionControls
from app.gui.password import DEFAULT_PASSWORD, KEY, PasswordStore, hash_password, verify_password
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


def test_operator_mode_hides_engineering_and_needs_the_password(qtbot, make_window, settings_file) -> None:
    window = make_window(autostart=False, operator=True)
    assert window.modes.operator
    assert not any(dock.isVisible() for dock in window.docks)
    assert not window.menuBar().isVisible() and not window.commands.by_name["load_model"].isVisible()
    assert window.status.mode.text() == "OPERATOR MODE"
    assert not window.board.trend.threshold_line.movable

    dialog = window.modes.request_engineer()
    dialog.password.setText("wrong")
    dialog.accept()
    assert window.modes.operator and "wrong engineer password" in window.status.last_error
    dialog = window.modes.request_engineer()
    dialog.password.setText(DEFAULT_PASSWORD)
    dialog.accept()
    assert not window.modes.operator and all(dock.isVisible() for dock in window.docks)
    assert window.menuBar().isVisible() and window.commands.by_name["load_model"].isVisible()

    change = window.modes.change_password()
    change.current.setText(DEFAULT_PASSWORD)
    change.new.setText("s3cret-line")
    change.repeat.setText("s3cret-line")
    change._try()
    assert change.result() == change.DialogCode.Accepted
    stored = QSettings(str(settings_file), QSettings.Format.IniFormat).value(KEY)
    assert stored.startswith("scrypt$") and "s3cret" not in stored  # only the salted hash is kept
    window.modes.set_operator(True)
    assert not window.modes.enter_engineer(DEFAULT_PASSWORD)  # the default no longer opens it
    assert window.modes.enter_engineer("s3cret-line")


def test_password_change_rules(tmp_path: Path) -> None:
    store = PasswordStore(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert store.is_default and store.verify(DEFAULT_PASSWORD) and not store.verify("")
    with pytest.raises(ValueError, match="current password is wrong"):
        store.change("nope", "abcdef")
    with pytest.raises(ValueError, match="at least"):
        store.change(DEFAULT_PASSWORD, "ab")
    store.change(DEFAULT_PASSWORD, "abcdef")
    assert not store.is_default and store.verify("abcdef") and not store.verify(DEFAULT_PASSWORD)


def test_password_hashing() -> None:
    a, b = hash_password("line-7"), hash_password("line-7")
    assert a != b  # a fresh salt each time
    assert verify_password("line-7", a) and verify_password("line-7", b)
    assert not verify_password("line-8", a)
    assert hash_password("x", salt=b"0" * 16) == hash_password("x", salt=b"0" * 16)
    for broken in ("", "plain-text", "md5$1$2$3$00$00", a.replace("scrypt", "bcrypt"), a[:-4] + "zzzz"):
        assert not verify_password("line-7", broken)
