"""What the window remembers across restarts, on top of QSettings (organisation/application set by the caller).

Typed accessors keep the keys in one place; values written by a newer or a hand-edited settings file that
cannot be parsed fall back to the defaults instead of stopping the app.
"""

from __future__ import annotations

import hashlib
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

    def model_path(self) -> Path | None:
        """The last model loaded successfully."""
        text = self._get("model/path", "", str)
        return Path(text) if text else None

    def set_model_path(self, path: Path | None) -> None:
        self.store.setValue("model/path", str(path) if path else "")

    def threshold_for(self, model: Path) -> float | None:
        """The operator's threshold for a model file, None = the model's calibrated one."""
        value = self._get(f"thresholds/{_key(model)}", -1.0, float)
        return value if 0.0 < value < 1.0 else None

    def set_threshold_for(self, model: Path, raw: float | None) -> None:
        key = f"thresholds/{_key(model)}"
        if raw is None:
            self.store.remove(key)
        else:
            self.store.setValue(key, float(raw))

    # --- inspection options ------------------------------------------------------------------------

    def overlay(self) -> OverlayOptions:
        """Heatmap and outline options."""
        defaults = OverlayOptions()
        values = {f.name: self._get(f"overlay/{f.name}", getattr(defaults, f.name), type(getattr(defaults, f.name)))
                  for f in fields(OverlayOptions)}  # fmt: skip
        if values["colormap"] not in COLORMAPS:
            values["colormap"] = defaults.colormap
        values["opacity"] = min(max(float(values["opacity"]), 0.0), 1.0)
        return OverlayOptions(**values)

    def set_overlay(self, options: OverlayOptions) -> None:
        for f in fields(OverlayOptions):
            self.store.setValue(f"overlay/{f.name}", getattr(options, f.name))

    def roi(self) -> Roi | None:
        """The inspection region, None = whole frame."""
        text = self._get("inspection/roi", "", str)
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError:
            return None
        return (x, y, w, h) if w > 0 and h > 0 else None

    def set_roi(self, roi: Roi | None) -> None:
        self.store.setValue("inspection/roi", ",".join(str(int(v)) for v in roi) if roi else "")

    def roi_enabled(self) -> bool:
        """Only the region is inspected."""
        return self._get("inspection/roi_enabled", False, bool)

    def set_roi_enabled(self, on: bool) -> None:
        self.store.setValue("inspection/roi_enabled", bool(on))

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
