"""Access rules on real settings files: PBKDF2 hashes, no default password, a missing or damaged hash locks, the
machine-wide file locks what it holds, and the CLI that IT recovers a station with."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.access.machine import (
    MACHINE_ENV,
    machine_settings_path,
    read_machine_settings,
    write_machine_setting,
)
from app.access.password import (
    MIN_ITERATIONS,
    AccessError,
    hash_password,
    is_well_formed,
    needs_rehash,
    verify_password,
)
from app.access.policy import (
    ACTIONS_KEY,
    DEFAULT_OPERATOR_ACTIONS,
    PASSWORD_KEY,
    AccessSettings,
    PasswordState,
    parse_actions,
)
from app.audit import read_events
from app.gui.access import QSettingsLayer


def fast_hash(password: str) -> str:
    return hash_password(password, iterations=MIN_ITERATIONS)


def access(user_ini: Path, machine_ini: Path | None = None) -> AccessSettings:
    """The rules as a station reads them from these two real files (a fresh QSettings each time: a restart)."""
    store = QSettings(str(user_ini), QSettings.Format.IniFormat)
    return AccessSettings(QSettingsLayer(store), read_machine_settings(machine_ini or user_ini.parent / "none.ini"))


def edit_ini(path: Path, drop: str = "", replace: tuple[str, str] | None = None) -> None:
    """Change the settings file by hand, as someone with a text editor would."""
    lines = [line for line in path.read_text().splitlines() if not (drop and line.startswith(drop))]
    text = "\n".join(lines) + "\n"
    if replace:
        text = text.replace(*replace)
    path.write_text(text)


def test_password_hash_is_salted_pbkdf2_and_checked_without_surprises() -> None:
    a, b = hash_password("line-7 pw"), hash_password("line-7 pw")
    assert a.startswith("pbkdf2_sha256$600000$") and a != b  # a fresh salt each time
    scheme, iterations, salt, digest = a.split("$")
    assert hashlib.pbkdf2_hmac("sha256", b"line-7 pw", bytes.fromhex(salt), int(iterations)).hex() == digest
    assert verify_password("line-7 pw", a) and not verify_password("line-7 pw!", a)
    for broken in ("", "engineer", a[:-6], a.replace("pbkdf2_sha256", "md5"), "pbkdf2_sha256$10$00$00",
                   "pbkdf2_sha256$99999999999$" + a.split("$", 2)[2]):  # fmt: skip  # too cheap / would hang
        assert not is_well_formed(broken) and not verify_password("line-7 pw", broken)
    legacy_salt = b"0123456789abcdef"  # a hash an earlier version wrote (scrypt) still opens, and is renewed
    legacy = "scrypt$16384$8$1${}${}".format(
        legacy_salt.hex(), hashlib.scrypt(b"old pw", salt=legacy_salt, n=16384, r=8, p=1, dklen=32).hex())
    assert verify_password("old pw", legacy) and needs_rehash(legacy) and not needs_rehash(a)


def test_no_default_password_and_a_removed_or_damaged_hash_locks(tmp_path: Path) -> None:
    ini = tmp_path / "user.ini"
    fresh = access(ini).password_status()
    assert fresh.state is PasswordState.UNSET  # nothing opens engineer mode, "engineer" included
    access(ini).store_password(fast_hash("plant pw 1"))
    status = access(ini).password_status()
    assert status.state is PasswordState.SET and verify_password("plant pw 1", status.stored)
    assert "plant pw 1" not in ini.read_text()

    edit_ini(ini, drop="engineer_password")  # someone deletes the hash to get the old default back
    locked = access(ini).password_status()
    assert locked.state is PasswordState.LOCKED and "removed" in locked.reason
    assert "draem-inspect access set-password" in locked.reason  # the recovery is named

    access(ini).user.set_value(PASSWORD_KEY, "pbkdf2_sha256$600000$zz$00")  # damaged
    damaged = access(ini).password_status()
    assert damaged.state is PasswordState.LOCKED and "damaged" in damaged.reason


def test_machine_wide_file_locks_what_it_holds(tmp_path: Path) -> None:
    user, machine = tmp_path / "user.ini", tmp_path / "etc" / "access.ini"
    own = access(user)
    own.store_password(fast_hash("user pw 1"))
    own.set_operator_actions({"stop_inspection", "reset_counters"})
    assert access(user).operator_actions() == {"stop_inspection", "reset_counters"}

    write_machine_setting(machine, PASSWORD_KEY, fast_hash("it pw 123"))
    write_machine_setting(machine, ACTIONS_KEY, "trigger")
    rules = access(user, machine)
    status = rules.password_status()
    assert status.machine_wide and verify_password("it pw 123", status.stored)
    assert not verify_password("user pw 1", status.stored)  # the per-user password no longer opens it
    assert rules.operator_actions() == {"trigger"} and rules.actions_locked
    with pytest.raises(AccessError, match="machine-wide"):
        rules.store_password(fast_hash("operator pw"))
    with pytest.raises(AccessError, match="machine-wide"):
        rules.set_operator_actions({"stop_inspection"})

    edit_ini(machine, replace=(status.stored, ""))  # IT empties the key: engineer mode locked, no fall-back
    assert access(user, machine).password_status().state is PasswordState.LOCKED


def test_an_unreadable_machine_file_locks_engineer_mode_and_ignores_the_user_layer(tmp_path: Path) -> None:
    user, machine = tmp_path / "user.ini", tmp_path / "access.ini"
    own = access(user)
    own.store_password(fast_hash("user pw 1"))
    own.set_operator_actions({"stop_inspection"})
    machine.write_text("engineer_password = no section header\n")
    rules = access(user, machine)
    assert rules.machine.problem and str(machine) in rules.machine.problem
    assert rules.password_status().state is PasswordState.LOCKED
    assert rules.operator_actions() == DEFAULT_OPERATOR_ACTIONS  # not the per-user stop_inspection


def test_system_location_wins_over_the_environment(tmp_path: Path, monkeypatch) -> None:
    system = tmp_path / "etc" / "access.ini"
    monkeypatch.setattr("app.access.machine.system_settings_path", lambda: system)
    monkeypatch.setenv(MACHINE_ENV, str(tmp_path / "mine.ini"))
    assert machine_settings_path() == tmp_path / "mine.ini"  # no system file: the variable names it
    system.parent.mkdir()
    system.write_text("[access]\noperator_actions = none\n")
    assert machine_settings_path() == system  # an operator's own variable cannot step around IT's file
    assert read_machine_settings().get(ACTIONS_KEY) == "none" and parse_actions("none") == frozenset()


def test_operator_action_names(tmp_path: Path) -> None:
    assert parse_actions("Trigger; stop_inspection, launch_rockets") == {"trigger", "stop_inspection"}
    assert access(tmp_path / "u.ini").operator_actions() == DEFAULT_OPERATOR_ACTIONS
    assert "stop_inspection" not in DEFAULT_OPERATOR_ACTIONS and "reset_counters" not in DEFAULT_OPERATOR_ACTIONS


def test_cli_sets_the_machine_wide_password_and_records_it(tmp_path: Path, monkeypatch, capsys) -> None:
    from app.cli.main import main

    machine, db = tmp_path / "etc" / "access.ini", tmp_path / "trace.sqlite"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["access", "--file", str(machine), "--db", str(db), "set-password", "--password-stdin"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "at least 6 characters" in err and not machine.exists()

    monkeypatch.setattr("sys.stdin", io.StringIO("it-recovery-7\n"))
    assert main(["access", "--file", str(machine), "--db", str(db), "set-password", "--password-stdin"]) == 0
    stored = read_machine_settings(machine).get(PASSWORD_KEY)
    assert stored.startswith("pbkdf2_sha256$") and verify_password("it-recovery-7", stored)
    assert main(["access", "--file", str(machine), "--db", str(db), "operator-actions", "trigger,reset_counters"]) == 0
    assert parse_actions(read_machine_settings(machine).get(ACTIONS_KEY)) == {"trigger", "reset_counters"}
    events = [(e.role, e.action, e.value, e.detail) for e in read_events(db)]
    assert events == [("cli", "password", "set machine-wide", str(machine)),
                      ("cli", "operator_actions", "reset_counters,trigger (machine-wide)", str(machine))]  # fmt: skip
