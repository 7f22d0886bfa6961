"""What the window opens with: launch options, and the choice of source and model when none is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.paths import bundled_model

DEFAULT_SOURCE = "demo"  # out of the box: the demo line, judged by the bundled model


@dataclass(frozen=True)
class LaunchOptions:
    """Command-line choices for the window (``draem-inspect gui ...``)."""

    source: str | None = None  # source spec to open; None: the last one used, else the demo line
    model: Path | None = None  # model file; None: last used, else the registry's active one, else bundled
    operator: bool | None = None  # start in operator mode; None: as last time
    fullscreen: bool = False  # start full screen
    autostart: bool = True  # connect and load the model right away


def choose_source(options: LaunchOptions, last: str) -> str:
    """The spec to open at start."""
    return options.source or last or DEFAULT_SOURCE


def choose_model(options: LaunchOptions, last: Path | None, registry_root: Path) -> Path | None:
    """The model to load at start: asked for, last used, active registry version, bundled, or None.

    A model asked for on the command line is returned even when missing, so its error is shown; the others
    are skipped when their file is gone.
    """
    if options.model is not None:
        return options.model
    for candidate in (last, _registry_active(registry_root), bundled_model()):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def _registry_active(root: Path) -> Path | None:
    try:
        from app.registry import ModelRegistry

        record = ModelRegistry(root).active()
    except Exception:  # noqa: BLE001 - a broken registry must not stop the app; the bundled model follows
        return None
    return record.model_path if record is not None else None
