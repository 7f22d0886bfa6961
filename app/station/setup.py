"""What a station is set up with, camera by camera: sources, models, thresholds, inspection regions.

:class:`OperatorValues` holds what the operator set per camera (a value for every camera, and a value per
camera that overrides it). :class:`StationSetup` is the whole station as plain data: the window's settings
and the plant's recipes store it (``to_dict``/``from_dict``, JSON-safe) and :meth:`app.station.Station.apply_setup`
brings a station to it; :meth:`app.station.Station.setup` reads it back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.station.modes import AcquisitionMode
from draem_core.errors import DraemError
from draem_core.inspector import Roi

if TYPE_CHECKING:
    from app.station.station import Station

MAX_CAMERAS = 4


class SetupError(DraemError):
    """A station setup that cannot be used (names the field and the reason)."""


@dataclass(frozen=True)
class CameraSetup:
    """One camera of a station."""

    spec: str  # the source spec: ``sim:<serial>``, a camera serial, ``demo``, ``folder:<path>``, ``video:<path>``
    model: str = ""  # its own model file; "" = the station's model
    threshold: float | None = None  # the operator's raw threshold; None = the model's calibrated one
    roi: Roi | None = None  # the inspection region (x, y, w, h); None = the model's region, else the whole frame

    def to_dict(self) -> dict:
        return {"spec": self.spec, "model": self.model, "threshold": self.threshold,
                "roi": list(self.roi) if self.roi is not None else None}  # fmt: skip

    @classmethod
    def from_dict(cls, data: object, where: str = "camera") -> CameraSetup:
        """Raises: SetupError: a field is missing or has a value that cannot be used."""
        if not isinstance(data, dict) or not isinstance(data.get("spec"), str) or not data["spec"].strip():
            raise SetupError(f"{where}: needs a source spec (\"spec\": \"sim:...\", \"demo\", ...)")
        model = data.get("model") or ""
        if not isinstance(model, str):
            raise SetupError(f"{where}: model must be a file path, not {model!r}")
        return cls(data["spec"].strip(), model, _threshold(data.get("threshold"), where), _roi(data.get("roi"), where))


@dataclass(frozen=True)
class StationSetup:
    """The whole station: its cameras in order, the model of cameras without their own, the acquisition mode."""

    cameras: tuple[CameraSetup, ...]  # 1 to 4 cameras, in station order (camera 0 first)
    model: str = ""  # the model of every camera without its own ("" = keep the one loaded)
    mode: str = AcquisitionMode.FREE_RUN.value  # free_run, software or hardware
    extra: dict = field(default_factory=dict, compare=False)  # anything else a recipe keeps (kept as it is)

    @property
    def specs(self) -> tuple[str, ...]:
        return tuple(c.spec for c in self.cameras)

    def to_dict(self) -> dict:
        return {**self.extra, "cameras": [c.to_dict() for c in self.cameras], "model": self.model, "mode": self.mode}

    @classmethod
    def from_dict(cls, data: object) -> StationSetup:
        """Raises: SetupError: not 1 to 4 cameras, or a camera, the model or the mode cannot be used."""
        if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
            raise SetupError("station setup: needs a list of cameras")
        cameras = data["cameras"]
        if not 1 <= len(cameras) <= MAX_CAMERAS:
            raise SetupError(f"station setup: a station has 1 to {MAX_CAMERAS} cameras, not {len(cameras)}")
        mode = data.get("mode") or AcquisitionMode.FREE_RUN.value
        if mode not in {m.value for m in AcquisitionMode}:
            raise SetupError(f"station setup: mode {mode!r} is not one of free_run, software, hardware")
        model = data.get("model") or ""
        if not isinstance(model, str):
            raise SetupError(f"station setup: model must be a file path, not {model!r}")
        parsed = tuple(CameraSetup.from_dict(c, f"camera {i + 1}") for i, c in enumerate(cameras))
        extra = {k: v for k, v in data.items() if k not in ("cameras", "model", "mode")}
        return cls(parsed, model, mode, extra)


class OperatorValues:
    """Thresholds and inspection regions the operator set: one for every camera, overridden per camera."""

    def __init__(self) -> None:
        self.threshold_all: float | None = None  # None: each model's calibrated threshold
        self.roi_all: Roi | None = None  # None: each model's region, else the whole frame
        self._thresholds: dict[int, float | None] = {}
        self._rois: dict[int, Roi | None] = {}

    def threshold(self, camera: int) -> float | None:
        return self._thresholds.get(camera, self.threshold_all)

    def roi(self, camera: int) -> Roi | None:
        return self._rois.get(camera, self.roi_all)

    def set_threshold(self, raw: float | None, camera: int | None = None) -> None:
        """For every camera (``camera`` None: the per-camera values are dropped) or for one."""
        if raw is not None and not 0.0 < raw < 1.0:
            msg = f"threshold {raw} is not inside (0, 1)"
            raise ValueError(msg)
        if camera is None:
            self.threshold_all, self._thresholds = raw, {}
        else:
            self._thresholds[camera] = raw

    def set_roi(self, roi: Roi | None, camera: int | None = None) -> None:
        roi = tuple(int(v) for v in roi) if roi is not None else None  # type: ignore[assignment]
        if camera is None:
            self.roi_all, self._rois = roi, {}
        else:
            self._rois[camera] = roi


def read_setup(station: Station) -> StationSetup:
    """The station as plain data; a camera's model is named only where it differs from camera 0's (the station's)."""
    own = {i: str(p) for i, p in station.camera_models.items() if p != station.model_path}
    values = station.values
    cameras = tuple(CameraSetup(spec, own.get(i, ""), values.threshold(i), values.roi(i))
                    for i, spec in enumerate(station.specs))  # fmt: skip
    return StationSetup(cameras, str(station.model_path or ""), station.mode.value)


def apply_setup(station: Station, setup: StationSetup) -> None:
    """Models loaded for each camera with its threshold (off the caller's thread), regions set, other sources
    connected, the mode switched."""
    for i, camera in enumerate(setup.cameras):
        model = camera.model or setup.model
        if model:
            station.load_model(model, camera=i, threshold=camera.threshold)
        else:
            station.set_threshold(camera.threshold, camera=i)
        station.set_roi(camera.roi, camera=i)
    if setup.specs != station.specs or not station.cameras:
        station.connect_source(setup.specs)
    station.set_mode(setup.mode)


def _threshold(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 < value < 1:
        raise SetupError(f"{where}: threshold {value!r} is not a number inside (0, 1)")
    return float(value)


def _roi(value: object, where: str) -> Roi | None:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and len(value) == 4 and all(type(v) is int for v in value)
    if not ok or value[2] <= 0 or value[3] <= 0 or value[0] < 0 or value[1] < 0:
        raise SetupError(f"{where}: roi {value!r} is not [x, y, width, height] in whole pixels")
    return tuple(value)  # type: ignore[return-value]
