"""Where the application keeps its data, and where bundled resources are (source tree or frozen app)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "draem-inspect"
ORG_NAME = "draem-inspect"


def resources_dir() -> Path:
    """The bundled ``resources/`` folder: beside the packages in a source tree, in _MEIPASS when frozen."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def bundled_model() -> Path:
    """The demo model shipped with the app."""
    return resources_dir() / "models" / "demo.safetensors"


def data_home() -> Path:
    """Per-user data folder (trace database, NG images, datasets, model registry).

    ``DRAEM_INSPECT_HOME`` overrides it (tests, portable installs).
    """
    override = os.environ.get("DRAEM_INSPECT_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP_NAME


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
