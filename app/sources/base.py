"""The one small interface every frame source satisfies (cameras, folders, videos, the demo line)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


class SourceState(enum.Enum):
    """Life cycle of a frame source, shown to the operator."""

    CLOSED = "closed"
    OPEN = "open"  # opened, not acquiring
    LIVE = "live"  # acquiring
    RECONNECTING = "reconnecting"  # device lost; retrying with back-off
    ERROR = "error"  # gave up; see SourceStats.last_error


@dataclass(frozen=True)
class Frame:
    """One image from a source.

    Attributes:
        image: ``(H, W)`` mono or ``(H, W, 3)`` RGB (channel order always RGB), uint8 or uint16.
        frame_id: Monotonic id given by the source (camera block id where available).
        timestamp: Host time of arrival, ``time.monotonic()`` seconds.
        device_timestamp: Camera timestamp in ns where the device gives one, else 0.
        source_id: Serial number of the camera, or a name for other sources.
        mask: Ground-truth defect mask ``(H, W)`` uint8 0/255 (demo line only), else None.
        label: Ground-truth label for synthetic frames: "good" or a defect kind; None if unknown.
    """

    image: np.ndarray
    frame_id: int
    timestamp: float
    device_timestamp: int = 0
    source_id: str = ""
    mask: np.ndarray | None = None
    label: str | None = None


@dataclass(frozen=True)
class SourceStats:
    """Counters of a source, a frozen snapshot."""

    state: SourceState = SourceState.CLOSED
    received: int = 0  # frames delivered by the device/generator
    dropped: int = 0  # frames overwritten in the latest-frame slot before anyone read them, or lost
    incomplete: int = 0  # frames the device reported as incomplete
    fps: float = 0.0  # measured arrival rate over the last second or so
    reconnects: int = 0
    last_error: str = ""
    extra: dict = field(default_factory=dict)


@runtime_checkable
class FrameSource(Protocol):
    """A source of frames with latest-frame semantics.

    ``latest()`` never blocks long: it returns the newest frame not returned before, or None.
    ``wait_latest(timeout)`` blocks at most ``timeout`` seconds (never call it on the GUI thread).
    """

    name: str

    def open(self) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...

    def latest(self) -> Frame | None: ...

    def wait_latest(self, timeout: float) -> Frame | None: ...

    def stats(self) -> SourceStats: ...
