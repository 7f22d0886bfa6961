"""The one small interface every frame source satisfies (cameras, folders, videos, the demo line)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from app.sources.slot import FrameSlot


class SourceState(enum.Enum):
    """Life cycle of a frame source, shown to the operator."""

    CLOSED = "closed"
    OPEN = "open"  # opened, not acquiring
    LIVE = "live"  # acquiring
    RECONNECTING = "reconnecting"  # device lost; retrying with back-off
    ERROR = "error"  # gave up; see SourceStats.last_error


@dataclass(frozen=True)
class Trigger:
    """One trigger: a request to judge the part in front of the camera now."""

    number: int  # 1, 2, ... in the order the station issued them; 0 = a hardware trigger it did not issue
    part_id: str  # the part's id as the PLC gave it with the trigger ("" if none)
    time: float  # time.monotonic() when it was issued (hardware: when its frame arrived)


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
        trigger: The trigger this frame answers (triggered mode), else None.
    """

    image: np.ndarray
    frame_id: int
    timestamp: float
    device_timestamp: int = 0
    source_id: str = ""
    mask: np.ndarray | None = None
    label: str | None = None
    trigger: Trigger | None = None


@dataclass(frozen=True)
class SourceStats:
    """Counters of a source, a frozen snapshot."""

    state: SourceState = SourceState.CLOSED
    received: int = 0  # frames delivered by the device/generator
    dropped: int = 0  # frames overwritten in the latest-frame slot before anyone read them, or lost
    overruns: int = 0  # triggered mode: triggers whose frame did not fit in the frame queue
    incomplete: int = 0  # frames the device reported as incomplete
    fps: float = 0.0  # measured arrival rate over the last second or so
    reconnects: int = 0
    last_error: str = ""
    extra: dict = field(default_factory=dict)


@runtime_checkable
class FrameSource(Protocol):
    """A source of frames; every source puts them in its :class:`~app.sources.slot.FrameSlot`.

    ``latest()`` never blocks long: it returns the newest frame not returned before, or None.
    ``wait_latest(timeout)`` blocks at most ``timeout`` seconds (never call it on the GUI thread) and returns
    at once when the source stopped. Both read the slot, which the station switches to triggered mode.
    Sources that can trigger the camera itself also have ``has_trigger() -> bool`` and
    ``software_trigger()``; others are triggered by taking the next frame (see the slot).
    """

    name: str
    slot: FrameSlot

    def open(self) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...

    def latest(self) -> Frame | None: ...

    def wait_latest(self, timeout: float) -> Frame | None: ...

    def stats(self) -> SourceStats: ...
