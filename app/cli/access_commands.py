"""Access and audit commands: ``audit-export`` and ``access status | set-password | operator-actions``.

``access set-password`` is how IT recovers a station whose engineer mode is locked (a missing or damaged hash): run
with the rights to write the machine-wide settings file, it sets the password there, where it overrides the
per-user one and operators cannot change it. Nothing here imports Qt except ``access status`` (which reads the
per-user settings too).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from app.cli.app_commands import _time  # the same --from/--to parsing as trace-export


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``audit-export`` and ``access``."""
    p = sub.add_parser("audit-export", help="export the audit log (who changed what, when) of a time range as CSV",
                       description="Write every audit event between --from and --to (ISO 8601; local time unless a "
                       "zone is given) to a CSV file.")  # fmt: skip
    p.add_argument("--from", dest="start", type=_time, metavar="TIME", help="start (inclusive); default: the beginning")
    p.add_argument("--to", dest="end", type=_time, metavar="TIME", help="end (exclusive); default: now")
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.add_argument("--db", type=Path, help="trace database holding the audit log (default: the data folder's)")
    p.set_defaults(func=cmd_audit_export)

    p = sub.add_parser("access", help="engineer password and operator actions in the machine-wide settings")
    p.add_argument("--file", type=Path, help="machine-wide settings file (default: the system location, see docs/gui.md)")
    p.add_argument("--db", type=Path, help="trace database whose audit log records the change (default: the data folder's)")
    cmds = p.add_subparsers(dest="access_command", metavar="ACTION", required=True)
    c = cmds.add_parser("status", help="where the password and the operator actions come from, and their state")
    c.set_defaults(func=cmd_status)
    c = cmds.add_parser("set-password", help="set the engineer password machine-wide (the recovery when it is locked)")
    c.add_argument("--password-stdin", action="store_true", help="read the password from one line of standard input")
    c.set_defaults(func=cmd_set_password)
    c = cmds.add_parser("operator-actions", help="lock which actions operators may use, machine-wide")
    c.add_argument("actions", help="comma-separated, e.g. start_inspection,trigger ('none' for none); names: "
                   "start_inspection, stop_inspection, reset_counters, trigger, select_recipe")  # fmt: skip
    c.set_defaults(func=cmd_operator_actions)


def cmd_audit_export(args: argparse.Namespace) -> int:
    from app.audit import AuditError, export_csv
    from app.trace import default_trace_path

    db = args.db or default_trace_path()
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise AuditError(db, "--to must be later than --from")
    count = export_csv(db, args.out, args.start, args.end)
    print(f"wrote {count} audit events to {args.out}")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    from app.access.machine import write_machine_setting
    from app.access.password import check_new_password, hash_password
    from app.access.policy import PASSWORD_KEY

    path = _machine_file(args)
    password = _read_password(args.password_stdin)
    check_new_password(password)
    write_machine_setting(path, PASSWORD_KEY, hash_password(password))
    _audit(args, "password", "set machine-wide", str(path))
    print(f"engineer password set in {path} (machine-wide: it overrides the per-user password)")
    _warn_if_writable(path)
    return 0


def cmd_operator_actions(args: argparse.Namespace) -> int:
    from app.access.machine import write_machine_setting
    from app.access.policy import ACTIONS_KEY, format_actions, parse_actions

    path = _machine_file(args)
    value = format_actions(parse_actions(args.actions))
    write_machine_setting(path, ACTIONS_KEY, value)
    _audit(args, "operator_actions", f"{value} (machine-wide)", str(path))
    print(f"operator actions in {path}: {value}")
    _warn_if_writable(path)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QSettings

    from app.access.machine import read_machine_settings
    from app.access.policy import AccessSettings, format_actions
    from app.gui.access import QSettingsLayer
    from app.paths import APP_NAME, ORG_NAME

    machine = read_machine_settings(_machine_file(args))
    access = AccessSettings(QSettingsLayer(QSettings(ORG_NAME, APP_NAME)), machine)
    shown = "absent" if not machine.path.exists() and not machine.problem else machine.problem or "read"
    status = access.password_status()
    where = "machine-wide" if status.machine_wide else "per-user settings"
    print(f"machine-wide settings: {machine.path} ({shown})")
    print(f"engineer password: {status.state.value} ({where})" + (f": {status.reason}" if status.reason else ""))
    print(f"operator actions: {format_actions(access.operator_actions())} "
          f"({'machine-wide' if access.actions_locked else 'per-user settings or default'})")  # fmt: skip
    _warn_if_writable(machine.path)
    return 0


def _machine_file(args: argparse.Namespace) -> Path:
    from app.access.machine import machine_settings_path

    return args.file or machine_settings_path()


def _read_password(from_stdin: bool) -> str:
    from app.access.password import AccessError

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("new engineer password: ")
    if getpass.getpass("repeat it: ") != first:
        msg = "the two passwords differ; nothing was changed"
        raise AccessError(msg)
    return first


def _audit(args: argparse.Namespace, action: str, value: str, detail: str) -> None:
    """Record the change in the audit log; a log that cannot be written is a warning (the change is made)."""
    from app.audit import AuditLog
    from app.trace import default_trace_path

    log = AuditLog(args.db or default_trace_path(), on_error=lambda _, exc: print(f"warning: {exc}", file=sys.stderr))
    log.record(action, value, detail=detail, role="cli")
    log.flush()
    log.close()


def _warn_if_writable(path: Path) -> None:
    """On POSIX, say so when people other than the owner may write the file (it would lock nothing)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if sys.platform != "win32" and mode & 0o022:
        print(f"warning: {path} can be written by its group or by everyone: operators could change it", file=sys.stderr)
