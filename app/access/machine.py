"""The machine-wide access settings: a small INI file that IT writes and operators cannot.

Looked for, in this order: the system location (``/etc/draem-inspect/access.ini``,
``%PROGRAMDATA%\\draem-inspect\\access.ini``, ``/Library/Application Support/draem-inspect/access.ini``); when
that does not exist, the file named by ``DRAEM_INSPECT_MACHINE_SETTINGS``. The system location always wins, so an
operator who starts the app with their own environment cannot step around it. Every key the file holds is
locked: the per-user settings cannot override it. A file that exists but cannot be read locks everything it
could hold. The app only reads it; ``draem-inspect access ...`` (run with the machine-wide rights) writes it.

Format (keys as in the per-user settings, ``section/key``)::

    [security]
    engineer_password = pbkdf2_sha256$600000$<salt>$<hash>
    [access]
    operator_actions = start_inspection, trigger
"""

from __future__ import annotations

import configparser
import io
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from app.access.password import AccessError
from draem_core.errors import one_line, shown

MACHINE_ENV = "DRAEM_INSPECT_MACHINE_SETTINGS"  # names the file when the system location has none
FILE_NAME = "access.ini"


def system_settings_path() -> Path:
    """The platform's machine-wide location (only administrators can write there by default)."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "draem-inspect" / FILE_NAME
    if sys.platform == "darwin":
        return Path("/Library/Application Support/draem-inspect") / FILE_NAME
    return Path("/etc/draem-inspect") / FILE_NAME


def machine_settings_path() -> Path:
    """The machine-wide file in force: the system location when it exists, else ``DRAEM_INSPECT_MACHINE_SETTINGS``
    when set, else the system location (where IT would create it)."""
    system = system_settings_path()
    override = os.environ.get(MACHINE_ENV)
    if not override or _exists(system):
        return system
    return Path(override).expanduser()


@dataclass(frozen=True)
class MachineSettings:
    """What the machine-wide file says."""

    path: Path  # where it was looked for
    values: dict[str, str] = field(default_factory=dict)  # "section/key" -> value, only the keys present
    problem: str = ""  # the file exists but could not be read: it locks everything ("" when read or absent)

    def get(self, key: str) -> str | None:
        """The value at ``key`` (``section/key``), None when the file does not hold it."""
        return self.values.get(key.lower())

    def locks(self, key: str) -> bool:
        """The per-user settings must not decide ``key``: the file holds it, or could not be read."""
        return bool(self.problem) or key.lower() in self.values


def read_machine_settings(path: Path | None = None) -> MachineSettings:
    """Read the machine-wide file (``path`` default: :func:`machine_settings_path`); never raises."""
    path = Path(path) if path is not None else machine_settings_path()
    try:
        if not path.exists():
            return MachineSettings(path)
        parser = _parser()
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        return MachineSettings(path, problem=f"{shown(path)} cannot be read ({one_line(exc)})")
    values = {f"{s}/{k}".lower(): v.strip() for s in parser.sections() for k, v in parser.items(s)}
    return MachineSettings(path, values)


def write_machine_setting(path: Path, key: str, value: str) -> None:
    """Set ``key`` (``section/key``) in the machine-wide file, keeping its other keys; atomic.

    Raises:
        AccessError: the file cannot be read or written (e.g. no administrator rights), named with the reason.
    """
    from draem_core.imageio import write_bytes_atomic

    path = Path(path)
    section, _, name = key.partition("/")
    parser = _parser()
    try:
        if path.exists():
            parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, name, value)
        text = io.StringIO()
        parser.write(text)
        write_bytes_atomic(path, text.getvalue().encode())
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        msg = f"machine-wide settings {shown(path)}: cannot write ({one_line(exc)}); run it with administrator rights"
        raise AccessError(msg) from exc


def _parser() -> configparser.ConfigParser:
    return configparser.ConfigParser(interpolation=None)  # hashes may hold '%'-free text, but never interpolate


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return True  # present but not reachable: treat as there (read_machine_settings reports why)
