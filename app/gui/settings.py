"""What the window remembers across restarts, on top of QSettings (organisation/application set by the caller).

Typed accessors keep the keys in one place; values written by a newer or a hand-edited settings file that
cannot be parsed, or that are out of range, fall back to the defaults instead of stopping the app, and
:meth:`GuiSettings.problem` sums them up in one line for the window to show.

The whole station is kept: its sources (``station/sources``), and per camera its model, thresholds, inspection
region and overlay. Camera 0 uses the keys a one-camera station always used (``model/path``, ``inspection/roi``
…); camera N > 0 the same keys under ``cameraN/``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from app.reject import RejectConfig
from app.station.setup import MAX_CAMERAS
from app.trace import TraceConfig
from draem_core.backends.spec import AUTO, BACKENDS
from draem_core.errors import shown
from draem_core.inspector import Roi

BACKEND_CHOICES = (*BACKENDS, AUTO)  # inference backends offered
COLORMAPS = ("turbo", "inferno", "magma", "viridis", "CET-L3")  # heatmap colormaps offered (pyqtgraph names)
MAX_TOKEN_CHARS = 256  # longest result-stream token (the server reads at most 1 KiB before the line must end)
_LONGEST_TEXT = 4096  # longest text value (a path); longer ones are not ours


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
        self.unusable: set[str] = set()  # keys whose stored value was not used (the default was)

    def problem(self) -> str:
        """One line naming the file and what could not be used; "" when every setting is usable."""
        for read in (self.source_spec, self.station_specs, self.model_path, self.overlay, self.roi, self.roi_enabled,
                     self.reject, self.trace, self.backend, self.acquisition_mode):  # fmt: skip
            read()  # each notes its unusable keys
        where = f"settings {shown(self.store.fileName())}"
        status = self.store.status()
        if status == QSettings.Status.AccessError:
            return f"{where}: cannot be read or written; the defaults are used"
        if status == QSettings.Status.FormatError:
            return f"{where}: not a readable settings file; the defaults are used"
        if self.unusable:
            keys = ", ".join(sorted(self.unusable)[:8]) + (" …" if len(self.unusable) > 8 else "")
            return f"{where}: {len(self.unusable)} unusable value(s) replaced by the defaults: {keys}"
        return ""

    def _get(self, key: str, default, kind: type, low: float = -math.inf, high: float = math.inf,
             longest: int = _LONGEST_TEXT):  # fmt: skip
        """The value at ``key`` as ``kind`` (numbers finite and within ``low..high``, text at most ``longest``
        characters); the default when missing or unusable (QSettings' own conversion turns "lots" into 0.0
        silently), noting the key in ``unusable``."""
        raw = self.store.value(key, None)
        if raw is None:
            return default
        try:
            value = _convert(raw, kind)
        except (TypeError, ValueError, OverflowError):
            self.unusable.add(key)
            return default
        if (kind in (int, float) and not low <= value <= high) or (kind is str and len(value) > longest):
            self.unusable.add(key)
            return default
        return value

    # --- source, model, thresholds -----------------------------------------------------------------

    def source_spec(self) -> str:
        """The last source connected ("" = never)."""
        return self._get("source/spec", "", str)

    def set_source_spec(self, spec: str) -> None:
        self.store.setValue("source/spec", spec)

    def station_specs(self) -> list[str]:
        """The sources of the station last connected (1 to 4); [] = never (or only ``source_spec``)."""
        text = self._get("station/sources", "[]", str)
        try:
            specs = json.loads(text)
        except (ValueError, RecursionError):
            specs = None
        ok = isinstance(specs, list) and 1 <= len(specs) <= MAX_CAMERAS and all(isinstance(s, str) and s for s in specs)
        if not ok and text != "[]":
            self.unusable.add("station/sources")
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
            self.unusable.add(_camera(camera, "overlay/colormap"))
            values["colormap"] = defaults.colormap
        values["opacity"] = min(max(float(values["opacity"]), 0.0), 1.0)
        return OverlayOptions(**values)

    def set_overlay(self, options: OverlayOptions, camera: int = 0) -> None:
        for f in fields(OverlayOptions):
            self.store.setValue(_camera(camera, f"overlay/{f.name}"), getattr(options, f.name))

    def roi(self, camera: int = 0) -> Roi | None:
        """A camera's inspection region, None = whole frame."""
        key = _camera(camera, "inspection/roi")
        text = self._get(key, "", str)
        if not text:
            return None
        try:
            x, y, w, h = (int(v) for v in text.split(","))
        except ValueError:
            x = y = w = h = -1
        if min(x, y) < 0 or min(w, h) <= 0 or max(x, y, w, h) > _MAX_ROI:
            self.unusable.add(key)
            return None
        return (x, y, w, h)

    def set_roi(self, roi: Roi | None, camera: int = 0) -> None:
        self.store.setValue(_camera(camera, "inspection/roi"), ",".join(str(int(v)) for v in roi) if roi else "")

    def roi_enabled(self, camera: int = 0) -> bool:
        """Only the region is inspected on this camera."""
        return self._get(_camera(camera, "inspection/roi_enabled"), False, bool)

    def set_roi_enabled(self, on: bool, camera: int = 0) -> None:
        self.store.setValue(_camera(camera, "inspection/roi_enabled"), bool(on))

    def reject(self) -> RejectConfig:
        """Reject-output settings (the stream token included: it is shown nowhere, see RejectConfig.token)."""
        d = RejectConfig()
        return replace(
            d,
            pulse_enabled=self._get("reject/pulse_enabled", d.pulse_enabled, bool),
            line=self._get("reject/line", d.line, str) or d.line,
            pulse_s=self._get("reject/pulse_s", d.pulse_s, float, 0.001, 5.0),
            tcp_enabled=self._get("reject/tcp_enabled", d.tcp_enabled, bool),
            host=self._get("reject/host", d.host, str) or d.host,
            port=self._get("reject/port", d.port, int, 1, 65535),
            max_clients=self._get("reject/max_clients", d.max_clients, int, 1, 1024),
            token=self._get("reject/token", d.token, str, longest=MAX_TOKEN_CHARS),
        )

    def set_reject(self, config: RejectConfig) -> None:
        for name in _REJECT_KEYS:
            self.store.setValue(f"reject/{name}", getattr(config, name))

    def trace(self) -> TraceConfig:
        """Retention of the trace database (set in the settings file; no control in the window)."""
        d = TraceConfig()
        return replace(d, keep_days=self._get("trace/keep_days", d.keep_days, float, 0.0, 36_500.0),
                       max_gb=self._get("trace/max_gb", d.max_gb, float, 0.0, 1e6))  # fmt: skip

    def backend(self) -> str:
        """The inference backend the models run on (torch, onnxruntime, openvino or auto)."""
        value = self._get("inspection/backend", "torch", str)
        if value not in BACKEND_CHOICES:
            self.unusable.add("inspection/backend")
            return "torch"
        return value

    def set_backend(self, name: str) -> None:
        self.store.setValue("inspection/backend", str(name))

    def backend_calibration(self) -> Path | None:
        """Good images of the product for the bf16/int8 backends (None: none chosen)."""
        text = self._get("inspection/backend_calibration", "", str)
        return Path(text) if text else None

    def set_backend_calibration(self, folder: Path | None) -> None:
        self.store.setValue("inspection/backend_calibration", str(folder) if folder else "")

    def acquisition_mode(self) -> str:
        """Free run or a triggered mode (an :class:`app.station.AcquisitionMode` value)."""
        from app.station.modes import AcquisitionMode

        value = self._get("acquisition/mode", AcquisitionMode.FREE_RUN.value, str)
        if value not in {m.value for m in AcquisitionMode}:
            self.unusable.add("acquisition/mode")
            return AcquisitionMode.FREE_RUN.value
        return value

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


def _camera(camera: int, key: str) -> str:
    """A camera's settings key: camera 0 keeps the one-camera keys, camera N uses ``cameraN/<key>``."""
    return key if camera == 0 else f"camera{camera}/{key}"


def _key(model: Path) -> str:
    """A settings key for a model file (paths contain separators QSettings would nest)."""
    return hashlib.sha1(str(Path(model).resolve()).encode()).hexdigest()[:16]


_MAX_ROI = 1 << 20  # larger ROI coordinates are not from any camera
_REJECT_KEYS = ("pulse_enabled", "line", "pulse_s", "tcp_enabled", "host", "port", "max_clients", "token")


def _convert(raw: object, kind: type):
    """``raw`` (as QSettings read it) as ``kind``; raises ValueError/TypeError/OverflowError when it is not one."""
    if kind is bool:
        return _to_bool(raw)
    if kind is str:
        if not isinstance(raw, str) or "\0" in raw:
            raise TypeError(type(raw).__name__)  # a list ("a, b" in the file), a byte array, a rectangle ...
        return raw
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise TypeError(type(raw).__name__)
    value = kind(raw)
    if kind is float and not math.isfinite(value):
        raise ValueError(raw)
    return value


def _to_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)
