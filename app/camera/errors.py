"""Camera errors: each names the device (serial, producer or source spec) and the reason, worded for the operator."""

from __future__ import annotations

from app.sources.errors import SourceError


class CameraError(SourceError):
    """A GenICam camera or producer could not be found, opened, configured or read.

    Attributes:
        device: The serial number, producer path or source spec concerned.
        reason: What went wrong, in words a user can act on.
    """

    def __init__(self, device: object, reason: str) -> None:
        super().__init__(device, reason, kind="camera")


class PixelFormatError(CameraError):
    """A buffer cannot be decoded: unsupported pixel format or a size that does not match."""

    def __init__(self, pixel_format: str, reason: str) -> None:
        super().__init__(f"(pixel format {pixel_format})", reason)
        self.pixel_format = pixel_format


class FeatureError(CameraError):
    """A camera feature does not exist, is not readable/writable now, or got a value it cannot take.

    Attributes:
        feature: The feature's GenICam name.
        detail: The reason without the feature name (``reason`` includes it).
    """

    def __init__(self, device: object, feature: str, reason: str) -> None:
        super().__init__(device, f"feature {feature}: {reason}")
        self.feature = feature
        self.detail = reason  # the reason without the feature name
