"""What the window opens with: launch options, and the choice of source and model when none is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.paths import bundled_model
from draem_core.errors import DraemError

DEFAULT_SOURCE = "demo"  # out of the box: the demo line, judged by the bundled model


@dataclass(frozen=True)
class LaunchOptions:
    """Command-line choices for the window (``draem-inspect gui ...``)."""

    source: str | None = None  # source spec to open; None: the last one used, else the demo line
    sources: tuple[str, ...] = ()  # several cameras: every source spec, ``source`` first; () = just ``source``
    model: Path | None = None  # model file; None: last used, else the registry's active one, else bundled
    operator: bool | None = None  # kept for scripts: the window always starts in operator mode now
    fullscreen: bool = False  # start full screen
    autostart: bool = True  # connect and load the model right away


def choose_source(options: LaunchOptions, last: str) -> str:
    """The spec to open at start."""
    return options.source or last or DEFAULT_SOURCE


def choose_sources(options: LaunchOptions, last_station: list[str], last: str) -> list[str]:
    """The specs of the station to open at start: asked for, else the last station, else one source as before."""
    if options.sources:
        return list(options.sources)
    if options.source:
        return [options.source]
    return list(last_station) or [choose_source(options, last)]


@dataclass(frozen=True)
class ModelChoice:
    """The model to open at start, and what the operator must be told about the choice."""

    path: Path | None  # model file to load; None: none (nothing is judged until one is loaded)
    problem: str = ""  # one line for the window's error sink and banner; "" when the choice is sound


def model_choice(options: LaunchOptions, last: Path | None, registry_root: Path) -> ModelChoice:
    """The model to load at start: asked for, else the registry's active version, else the last used, else the
    bundled demo model.

    The registry's active version wins over the last-used file: ``registry activate`` (or the wizard's Deploy
    and rollback) decides what the station runs next; a file loaded by hand runs until the next start unless
    it is added to the registry and activated. A model asked for on the command line is returned even when
    missing, so its error is shown. A registry that exists but cannot say which version is active (a corrupt
    ``active.json``, a missing record or model file) gives no model and the reason, never a silent fall-back
    to another model.
    """
    if options.model is not None:
        return ModelChoice(options.model)
    try:
        active = _registry_active(registry_root)
    except DraemError as exc:
        return ModelChoice(None, f"{exc}; no model was loaded")
    if active is not None:
        return ModelChoice(active)
    for candidate in (last, bundled_model()):
        if candidate is not None and candidate.is_file():
            return ModelChoice(candidate)
    return ModelChoice(None)


def _registry_active(root: Path) -> Path | None:
    """The active version's model file, None when no version is active.

    Raises:
        RegistryError: the active pointer is corrupt, or names a version whose record or model file is missing.
    """
    from app.registry import ModelRegistry, RegistryError

    record = ModelRegistry(root).active()
    if record is None:
        return None
    if not record.model_path.is_file():
        raise RegistryError(record.model_path, f"the model file of the active version {record.id} is missing")
    return record.model_path
