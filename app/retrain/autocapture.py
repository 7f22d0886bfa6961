"""Auto-capture: N frames, one every k seconds, optionally only frames the current model judges OK.

Plain Python that yields progress and stops when asked (house style §7); the wizard runs it on a worker
thread. It pulls the live window's newest publication (a frame together with its verdict, so the verdict is
that frame's by construction) and never captures the same frame twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from app.pipeline.record import LiveResult
from app.retrain.collect import Dataset, ImageEntry, frame_image
from draem_core.verdict import OK

Grab = Callable[[], LiveResult | None]  # newest frame with its verdict, or None when there is none yet


@dataclass(frozen=True)
class AutoCaptureConfig:
    """What auto-capture collects."""

    count: int = 20  # frames to store
    every_s: float = 1.0  # seconds between two stored frames
    only_ok: bool = False  # store only frames the current model judges OK
    poll_s: float = 0.05  # how often to look for a new frame while waiting
    give_up_s: float = 30.0  # stop with a message when no storable frame came for this long


@dataclass(frozen=True)
class CaptureEvent:
    """Progress of an auto-capture run."""

    kind: str  # captured | skipped | done | cancelled | stalled
    stored: int  # frames stored so far
    wanted: int  # frames asked for
    entry: ImageEntry | None = None  # the stored image (kind "captured")
    message: str = ""  # why a frame was skipped, or how the run ended


def auto_capture(dataset: Dataset, grab: Grab, config: AutoCaptureConfig, *,
                 camera_settings: Callable[[], dict] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> Iterator[CaptureEvent]:  # fmt: skip
    """Store ``config.count`` frames into ``dataset``; yields an event per stored or skipped frame.

    Args:
        dataset: where the frames go.
        grab: returns the newest publication, a frame with its verdict (never blocks long).
        config: count, interval and the OK-only option (frames without an OK verdict are skipped).
        camera_settings: returns the camera's settings, stored with each frame.
        should_stop: polled between frames; the run ends with a "cancelled" event.
    """
    stored, last_id, last_good = 0, None, time.monotonic()
    while stored < config.count:
        if should_stop():
            yield CaptureEvent("cancelled", stored, config.count, message=f"stopped after {stored} frames")
            return
        live = grab()
        frame = live.frame if live is not None else None
        if frame is None or frame.frame_id == last_id:
            if time.monotonic() - last_good > config.give_up_s:
                yield CaptureEvent(
                    "stalled", stored, config.count, message=f"no new frame for {config.give_up_s:g} s"
                )
                return
            time.sleep(config.poll_s)
            continue
        last_id = frame.frame_id
        if config.only_ok and live.verdict != OK:
            why = "no verdict (no model is inspecting)" if live.verdict is None else f"judged {live.verdict}"
            yield CaptureEvent("skipped", stored, config.count, message=f"frame {frame.frame_id}: {why}")
            continue
        settings = camera_settings() if camera_settings else {}
        entry = dataset.add_frame(frame_image(frame), source=frame.source_id, camera_settings=settings,
                                  frame_id=frame.frame_id)  # fmt: skip
        stored += 1
        last_good = time.monotonic()
        yield CaptureEvent("captured", stored, config.count, entry)
        if stored < config.count and _wait(config.every_s, config.poll_s, should_stop):
            yield CaptureEvent("cancelled", stored, config.count, message=f"stopped after {stored} frames")
            return
    yield CaptureEvent("done", stored, config.count, message=f"stored {stored} frames")


def _wait(seconds: float, poll: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep ``seconds`` in slices of ``poll``; True as soon as ``should_stop()`` says so."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if should_stop():
            return True
        time.sleep(min(poll, max(0.0, end - time.monotonic())))
    return False
