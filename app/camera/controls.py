"""Conveniences over the standard (SFNC) camera features, with fallbacks for SFNC 1.x names.

:class:`CameraControls` wraps a node map (a real genicam one in the acquisition process, or a test double of
the same shape). Every setter goes through :func:`app.camera.features.set_value`, so values are type-checked
and range-checked with messages naming the feature.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from app.camera.errors import FeatureError
from app.camera.features import describe, find_node, get_value, set_value

# Names tried in order: SFNC 2.x first, then the SFNC 1.x names older GigE cameras use.
EXPOSURE_NAMES = ("ExposureTime", "ExposureTimeAbs")  # microseconds
GAIN_NAMES = ("Gain", "GainRaw")  # Gain in dB; GainRaw in device units
FRAME_RATE_NAMES = ("AcquisitionFrameRate", "AcquisitionFrameRateAbs")  # Hz
FRAME_RATE_ENABLE = "AcquisitionFrameRateEnable"  # vendor switch some cameras need before the rate applies
AUTO_MODES = ("Off", "Once", "Continuous")


@dataclass(frozen=True)
class Roi:
    """Region of interest on the sensor, in pixels."""

    width: int  # columns delivered
    height: int  # rows delivered
    offset_x: int = 0  # first column
    offset_y: int = 0  # first row


class CameraControls:
    """Typed shortcuts for exposure, gain, frame rate, trigger, pixel format, ROI, user sets and outputs.

    Args:
        node_map: The remote device's node map.
        device: Serial number or name, used in error messages.
    """

    def __init__(self, node_map, device: str = "") -> None:
        self._nm = node_map
        self._device = device

    # --- helpers -----------------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        """The device implements feature ``name``."""
        return find_node(self._nm, name) is not None

    def _first(self, names: tuple[str, ...]) -> str:
        for name in names:
            if self.has(name):
                return name
        raise FeatureError(self._device, names[0], f"this camera has none of {', '.join(names)}")

    def _set(self, name: str, value):
        return set_value(self._nm, name, value, self._device)

    def _get(self, name: str):
        return get_value(self._nm, name, self._device)

    # --- exposure, gain, frame rate --------------------------------------------------------------------

    def exposure_us(self) -> float:
        """Exposure time in microseconds."""
        return float(self._get(self._first(EXPOSURE_NAMES)))

    def set_exposure_us(self, microseconds: float) -> float:
        """Set the exposure time (auto exposure is switched off first); returns the value applied."""
        if self.has("ExposureAuto"):
            self._set("ExposureAuto", "Off")
        return float(self._set(self._first(EXPOSURE_NAMES), float(microseconds)))

    def set_exposure_auto(self, mode: str) -> None:
        """``"Off"``, ``"Once"`` or ``"Continuous"``."""
        self._set("ExposureAuto", _auto_mode(mode))

    def gain(self) -> float:
        """Gain in dB (``Gain``), or raw device units on SFNC 1.x cameras (``GainRaw``)."""
        return float(self._get(self._first(GAIN_NAMES)))

    def set_gain(self, value: float) -> float:
        """Set the gain (auto gain off first); ``GainRaw`` cameras get the value rounded to an integer."""
        if self.has("GainAuto"):
            self._set("GainAuto", "Off")
        name = self._first(GAIN_NAMES)
        return float(self._set(name, round(value) if name == "GainRaw" else float(value)))

    def set_gain_auto(self, mode: str) -> None:
        """``"Off"``, ``"Once"`` or ``"Continuous"``."""
        self._set("GainAuto", _auto_mode(mode))

    def frame_rate(self) -> float:
        """Configured acquisition frame rate in Hz."""
        return float(self._get(self._first(FRAME_RATE_NAMES)))

    def set_frame_rate(self, hz: float) -> float:
        """Set the frame rate, enabling ``AcquisitionFrameRateEnable`` where the camera has it."""
        if self.has(FRAME_RATE_ENABLE):
            self._set(FRAME_RATE_ENABLE, True)
        return float(self._set(self._first(FRAME_RATE_NAMES), float(hz)))

    # --- trigger -----------------------------------------------------------------------------------

    def set_trigger(
        self,
        enabled: bool,
        source: str = "Software",
        selector: str = "FrameStart",
        activation: str | None = None,
    ) -> None:
        """Switch triggered acquisition on (from ``source``) or off (free run)."""
        if self.has("TriggerSelector"):
            self._set("TriggerSelector", selector)
        if enabled:
            self._set("TriggerSource", source)
            if activation is not None:
                self._set("TriggerActivation", activation)
        self._set("TriggerMode", "On" if enabled else "Off")

    def trigger_enabled(self) -> bool:
        """Trigger mode is on for the selected trigger."""
        return self.has("TriggerMode") and self._get("TriggerMode") == "On"

    def software_trigger(self) -> None:
        """Fire ``TriggerSoftware`` (trigger mode must be on with source Software)."""
        if self.has("TriggerMode") and self._get("TriggerMode") != "On":
            raise FeatureError(
                self._device, "TriggerSoftware", "trigger mode is off; call set_trigger(True) first"
            )
        self._set("TriggerSoftware", None)

    # --- image format ------------------------------------------------------------------------------

    def pixel_format(self) -> str:
        """Current ``PixelFormat``."""
        return str(self._get("PixelFormat"))

    def pixel_formats(self) -> tuple[str, ...]:
        """Pixel formats the camera offers now."""
        node = find_node(self._nm, "PixelFormat")
        return describe(node).entries if node is not None else ()

    def set_pixel_format(self, name: str) -> str:
        """Set ``PixelFormat`` (not allowed while acquiring on most cameras)."""
        return str(self._set("PixelFormat", name))

    def roi(self) -> Roi:
        """Current region of interest."""
        offsets = [int(self._get(n)) if self.has(n) else 0 for n in ("OffsetX", "OffsetY")]
        return Roi(int(self._get("Width")), int(self._get("Height")), *offsets)

    def set_roi(self, roi: Roi) -> Roi:
        """Apply a ROI, snapped down to the camera's increments and clamped to its ranges; returns it.

        Offsets go to their minimum first so that a larger width/height is accepted, then size, then offsets.
        """
        for name in ("OffsetX", "OffsetY"):
            if self.has(name):
                self._set(name, describe(find_node(self._nm, name)).minimum or 0)
        self._set("Width", self._snap("Width", roi.width))
        self._set("Height", self._snap("Height", roi.height))
        for name, value in (("OffsetX", roi.offset_x), ("OffsetY", roi.offset_y)):
            if self.has(name):
                self._set(name, self._snap(name, value))
        return self.roi()

    def _snap(self, name: str, value: int) -> int:
        info = describe(find_node(self._nm, name))
        low = int(info.minimum or 0)
        high = int(info.maximum) if info.maximum is not None else value
        inc = int(info.increment or 1)
        return max(low, min(high, low + (int(value) - low) // inc * inc))

    # --- user sets ---------------------------------------------------------------------------------

    def user_sets(self) -> tuple[str, ...]:
        """User sets the camera offers (``Default``, ``UserSet1`` ...); empty if it has none."""
        node = find_node(self._nm, "UserSetSelector")
        return describe(node).entries if node is not None else ()

    def load_user_set(self, name: str) -> None:
        """Load a user set into the camera's active settings."""
        self._set("UserSetSelector", name)
        self._set("UserSetLoad", None)

    def save_user_set(self, name: str) -> None:
        """Store the active settings in a user set (``Default`` is read-only on most cameras)."""
        self._set("UserSetSelector", name)
        self._set("UserSetSave", None)

    def set_startup_user_set(self, name: str) -> None:
        """Choose the user set the camera loads at power-up (``UserSetDefault``)."""
        self._set("UserSetDefault", name)

    # --- digital output ----------------------------------------------------------------------------

    def set_output(self, line: str, high: bool, user_output: str = "UserOutput1") -> None:
        """Drive a camera output line from a user output, e.g. for a reject signal."""
        self._set("LineSelector", line)
        if self.has("LineMode") and describe(find_node(self._nm, "LineMode")).writable:
            self._set("LineMode", "Output")
        self._set("LineSource", user_output)
        if self.has("UserOutputSelector"):
            self._set("UserOutputSelector", user_output)
        self._set("UserOutputValue", bool(high))

    def pulse_output(
        self,
        line: str,
        duration_s: float,
        user_output: str = "UserOutput1",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Raise ``line`` for ``duration_s`` seconds, then lower it (blocks for the pulse)."""
        self.set_output(line, True, user_output)
        try:
            sleep(duration_s)
        finally:
            self.set_output(line, False, user_output)


def _auto_mode(mode: str) -> str:
    if mode not in AUTO_MODES:
        msg = f"auto mode must be one of {', '.join(AUTO_MODES)}, not {mode!r}"
        raise ValueError(msg)
    return mode
