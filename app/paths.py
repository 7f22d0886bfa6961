"""Where the application keeps its data, and where the bundled resources are."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from draem_core.resources import resources_dir as _resources_dir

APP_NAME = "draem-inspect"
ORG_NAME = "draem-inspect"
HOME_ENV = "DRAEM_INSPECT_HOME"  # environment variable naming the data folder (``--data-dir`` sets it)


def resources_dir() -> Path:
    """The bundled ``resources/`` folder, found the same way installed, editable and frozen
    (:func:`draem_core.resources.resources_dir`)."""
    return _resources_dir()


def bundled_model() -> Path:
    """The demo model shipped with the app."""
    return resources_dir() / "models" / "demo.safetensors"


def data_home() -> Path:
    """The data folder (trace database, NG images, datasets, model registry, logs).

    The first that applies: ``--data-dir`` / the ``DRAEM_INSPECT_HOME`` variable; the machine-wide folder
    when it exists (created by IT on a line PC shared by several accounts); the per-user folder.
    """
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    machine = machine_data_home()
    if machine.is_dir():
        return machine
    return user_data_home()


def user_data_home() -> Path:
    """The per-user data folder: ``~/.local/share/draem-inspect``, ``%LOCALAPPDATA%\\draem-inspect``,
    ``~/Library/Application Support/draem-inspect``."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP_NAME


def machine_data_home() -> Path:
    """The machine-wide data folder, used when it exists: ``/var/lib/draem-inspect``,
    ``%PROGRAMDATA%\\draem-inspect``, ``/Library/Application Support/draem-inspect``."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / APP_NAME
    if sys.platform == "darwin":
        return Path("/Library/Application Support") / APP_NAME
    return Path("/var/lib") / APP_NAME


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
