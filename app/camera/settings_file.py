"""Camera settings saved to and loaded from a JSON file.

The file lists features in the order they must be applied (the device's category order: image format
before acquisition control). A feature that depends on a selector (e.g. ``PixelFormat`` on
``ComponentSelector``) is saved for the selector's current value only, right after that selector.

Example::

    {"format": "draem-inspect camera settings", "version": 1,
     "device": {"vendor": "...", "model": "...", "serial": "..."},
     "features": [["Width", 640], ["PixelFormat", "Mono8"], ["AcquisitionFrameRate", 30.0]]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from app.camera.errors import CameraError
from app.camera.features import VALUE_KINDS, FeatureTree, set_value
from draem_core.imageio import write_bytes_atomic

FORMAT = "draem-inspect camera settings"
VERSION = 1
_PASSES = 2  # a second pass applies what the first refused because of ordering (e.g. offsets before size)


@dataclass(frozen=True)
class CameraSettings:
    """The content of a settings file."""

    features: tuple[tuple[str, object], ...]  # (name, value) in the order to apply them
    device: dict = field(default_factory=dict)  # vendor/model/serial of the camera they came from


def capture(tree: FeatureTree, device: dict | None = None) -> CameraSettings:
    """The settings worth saving from a feature tree: writable, streamable value features."""
    selected: list[tuple[str, object]] = []
    seen: set[str] = set()
    for _, info in tree.walk("Guru"):
        if info.kind not in VALUE_KINDS or info.access != "RW" or not info.streamable or info.value is None:
            continue
        for selector in info.selectors:
            sel = tree.features.get(selector)
            if sel is not None and sel.access == "RW" and sel.value is not None and selector not in seen:
                selected.append((selector, sel.value))
                seen.add(selector)
        if info.name not in seen:
            selected.append((info.name, info.value))
            seen.add(info.name)
    return CameraSettings(tuple(selected), dict(device or {}))


def save_settings(path: str | Path, settings: CameraSettings) -> Path:
    """Write ``settings`` as JSON (one feature per line, easy to read and diff), atomically."""
    head = {"format": FORMAT, "version": VERSION, "device": settings.device}
    pairs = ",\n  ".join(json.dumps([name, value]) for name, value in settings.features)
    text = json.dumps(head)[:-1] + f', "features": [\n  {pairs}\n]}}\n'
    path = Path(path)
    write_bytes_atomic(path, text.encode("utf-8"))
    return path


def load_settings(path: str | Path) -> CameraSettings:
    """Read a settings file.

    Raises:
        CameraError: the file is missing, not JSON, not a settings file, or of a newer version.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CameraError(path, f"cannot read settings file: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CameraError(path, f"settings file is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CameraError(path, f"not a camera settings file (expected format {FORMAT!r})")
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        raise CameraError(
            path, f"settings file version {doc.get('version')} is newer than this program ({VERSION})"
        )
    features = doc.get("features")
    if not isinstance(features, list) or not all(
        isinstance(f, list) and len(f) == 2 and isinstance(f[0], str) for f in features
    ):
        raise CameraError(path, "settings file has no valid 'features' list of [name, value] pairs")
    return CameraSettings(tuple((name, value) for name, value in features), dict(doc.get("device") or {}))


def apply_settings(node_map, settings: CameraSettings, device: str = "") -> list[tuple[str, str]]:
    """Write the settings to a camera; returns ``(feature, reason)`` for those it refused.

    Applied in file order, with a second pass for features refused because of ordering.
    """
    pending = list(settings.features)
    failures: list[tuple[str, str]] = []
    for _ in range(_PASSES):
        failures, retry = [], []
        for name, value in pending:
            try:
                set_value(node_map, name, value, device)
            except CameraError as exc:
                failures.append((name, getattr(exc, "detail", exc.reason)))
                retry.append((name, value))
        pending = retry
        if not pending:
            break
    return failures
