"""What the window remembers across restarts, on top of QSettings (organisation/application set by the caller).

Typed accessors keep the keys in one place; values written by a newer or a hand-edited settings file that
cannot be parsed fall back to the defaults instead of stopping the app.

The whole station is kept: its sources (``station/sources``), and per camera its model, thresholds, inspection
region and overlay. Camera 0 uses the keys a one-camera station always used (``model/path``, ``inspection/roi``
…); camera N > 0 the same keys under ``cameraN/``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from app.reject import RejectConfig
from draem_core.inspector import Roi

COLORMAPS = ("turbo", "inferno", "magma", "viridis", "CET-L3")  # heatmap colormaps offered (pyqtgraph names)


@dataclass(frozen=True)
class OverlayOptions:
    """How results are drawn over the live frame."""

    heatmap: bool = True  # draw the anomaly heatmap
    opacity: float = 0.6  # heatmap opacity, 0..1
    colormap: str = "turbo"  # one of COLORMAPS
    outline: bool = True  # outline the regions above the threshold


class GuiSettings:
    """Typed view of the QSettings store."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def _get(self, key: str, default, kind: type):
        """The value at ``key`` as ``kind``; the default when missing or not convertible (QSettings' own
        conversion turns "lots" into 0.0 silently)."""
        raw = self.store.value(key, None)
        if raw is None:
            return default
        try:
            if kind is bool:
                return _to_bool(raw)
            return kind(raw)
        except (TypeError, ValueError):
            return default

    # --- source, model, thresholds -----------------------------------------------------------------

    def source_spec(self) -> str:
        """The last source connected ("" = never)."""
        return self._get("source/spec", "", str)

    def set_source_spec(self, spec: str) -> None:
        self.store.setValue("source/spec", spec)

    def station_specs(self) -> list[str]:
        """The sources of the station last connected (1 to 4); [] = never (or only ``source_spec``)."""
        try:
            specs = json.loads(self._get("station/sources", "[]", str))
        except ValueError:
            return []
        ok = isinstance(specs, list) and 1 <= len(specs) <= 4 and all(isinstance(s, str) and s for s in specs)
        return specs if ok else []

    def set_station_specs(self, specs: list[str]) -> None:
        self.store.setValue("station/sources", json.dumps(list(specs)))

    def model_path(self, camera: int = 0) -> Path | None:
        """The last model a camera ran (camera 0's is the station's)."""
        text = self._get(_camera(camera, "model/path"), "", str)
        return Path(text) if text else None

    def set_model_path(self, path: Path | None, camera: int = 0) -> None:
        self.store.setValue(_camera(camera, "model/path"), str(path) if path else "")

    def threshold_for(self, model: Path, camera: int = 0) -> float | None:
        """The operator's threshold for a model file on a camera, None = the model's calibrated one."""
        value = self._get(_camera(camera, f"thresholds/{_key(model)}"), -1.0, float)
        return value if 0.0 < value < 1.0 else None

    def set_threshold_for(self, model: Path, raw: float | None, camera: int = 0) -> None:
        key = _camera(camera, f"thresholds/{_key(model)}")
        if raw is None:
            self.store.remove(key)
        else:
            self.store.setValue(key, float(raw))

    # --- inspection options ------------------------------------------------------------------------

    def overlay(self, camera: int = 0) -> OverlayOptions:
        """Heatmap and outline options of a camera's view."""
        defaults = OverlayOptions()
        values = {f.name: self._get(_camera(camera, f"overlay/{f.name}"), getattr(defaults, f.name),
                                    type(getattr(defaults, f.name))) for f in fields(OverlayOptions)}  # fmt: skip
        if values["colormap"] not in COLORMAPS:
            values["colormap"] = defaults.colormap
        values["opacity"] = min(max(float(values["opacity"]), 0.0), 1.0)
        return OverlayOptions(**values)

    def set_overlay(self, options: OverlayOptions, camera: int = 0) -> None:
        for f in fields(OverlayOptions):
            self.store.setValue(_camera(camera, f"overlay/{f.name}"), getattr(options, f.name))

    def roi(self, camera: int = 0) -> Roi | None:
        """A camera's inspection region, None = whole frame."""
        text = self._get(_camera(camera, "inspection/roi"), "", str)
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError:
            return None
        return (x, y, w, h) if w > 0 and h > 0 else None

    def set_roi(self, roi: Roi | None, camera: int = 0) -> None:
        self.store.setValue(_camera(camera, "inspection/roi"), ",".join(str(int(v)) for v in roi) if roi else "")

    def roi_enabled(self, camera: int = 0) -> bool:
        """Only the region is inspected on this camera."""
        return self._get(_camera(camera, "inspection/roi_enabled"), False, bool)

    def set_roi_enabled(self, on: bool, camera: int = 0) -> None:
        self.store.setValue(_camera(camera, "inspection/roi_enabled"), bool(on))

    def reject(self) -> RejectConfig:
        """Reject-output settings."""
        d = RejectConfig()
        return RejectConfig(
            pulse_enabled=self._get("reject/pulse_enabled", d.pulse_enabled, bool),
            line=self._get("reject/line", d.line, str) or d.line,
            pulse_s=self._get("reject/pulse_s", d.pulse_s, float),
            tcp_enabled=self._get("reject/tcp_enabled", d.tcp_enabled, bool),
            host=self._get("reject/host", d.host, str) or d.host,
            port=self._get("reject/port", d.port, int),
        )

    def set_reject(self, config: RejectConfig) -> None:
        for name in ("pulse_enabled", "line", "pulse_s", "tcp_enabled", "host", "port"):
            self.store.setValue(f"reject/{name}", getattr(config, name))

    def acquisition_mode(self) -> str:
        """Free run or a triggered mode (an :class:`app.station.AcquisitionMode` value)."""
        from app.station.modes import AcquisitionMode

        value = self._get("acquisition/mode", AcquisitionMode.FREE_RUN.value, str)
        return value if value in {m.value for m in AcquisitionMode} else AcquisitionMode.FREE_RUN.value

    def set_acquisition_mode(self, mode: str) -> None:
        self.store.setValue("acquisition/mode", str(mode))

    def operator_mode(self) -> bool:
        """The window was last in operator mode."""
        return self._get("mode/operator", False, bool)

    def set_operator_mode(self, on: bool) -> None:
        self.store.setValue("mode/operator", bool(on))

    # --- window ------------------------------------------------------------------------------------

    def restore_window(self, window: QMainWindow) -> bool:
        """Geometry and dock layout as last saved; False when there is none."""
        geometry = self.store.value("window/geometry")
        state = self.store.value("window/state")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            window.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            window.restoreState(state)
        return isinstance(geometry, QByteArray)

    def save_window(self, window: QMainWindow) -> None:
        self.store.setValue("window/geometry", window.saveGeometry())
        self.store.setValue("window/state", window.saveState())

    def sync(self) -> None:
        """Write to disk now."""
        self.store.sync()


def _camera(camera: int, key: str) -> str:
    """A camera's settings key: camera 0 keeps the one-camera keys, camera N uses ``cameraN/<key>``."""
    return key if camera == 0 else f"camera{camera}/{key}"


def _key(model: Path) -> str:
    """A settings key for a model file (paths contain separators QSettings would nest)."""
    return hashlib.sha1(str(Path(model).resolve()).encode()).hexdigest()[:16]


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)
