"""The one frame slot every source puts its frames in, and the station takes them from.

Free run (the default) keeps only the newest frame: a frame nobody took before the next one arrived is
counted as dropped. Triggered mode turns the slot into a bounded queue of the frames that belong to
triggers, judged in order:

* ``every_frame=True`` (a camera in hardware- or software-trigger mode: each frame it sends is a part):
  every frame is queued, paired in order with the software triggers waiting for a frame;
* ``every_frame=False`` (a source without trigger nodes: demo, folder, video, the simulator): a trigger
  takes the next frame that arrives after it; frames no trigger asked for are not parts and are skipped.

A trigger never goes missing: when the queue is full (overrun) or no frame arrives within
``trigger_timeout_s``, ``on_missed(trigger, reason)`` is called at once, so the station records the part as
NOT_JUDGED. The wait semantics are the same for every source: :meth:`wait` returns a frame, or None after
the timeout, or None at once when the source has stopped producing (:meth:`close`).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.sources.base import Frame, Trigger
from draem_core.verdict import NO_FRAME, OVERRUN

FPS_WINDOW_S = 1.0  # the measured frame rate averages over this many seconds

MissedHandler = Callable[[Trigger, str], None]  # (trigger, reason) of a part that gets no frame


@dataclass(frozen=True)
class SlotCounters:
    """What went through a slot, a frozen snapshot."""

    received: int  # frames put in
    dropped: int  # free run: frames replaced before anyone took them
    overruns: int  # triggered: triggers whose frame did not fit in the queue
    missed: int  # triggered: triggers that got no frame in time
    queued: int  # frames waiting to be taken now
    fps: float  # arrival rate over the last second


class FrameSlot:
    """Latest-frame slot (free run) or bounded FIFO of triggered frames; thread-safe.

    Args:
        queue_size: Most frames held in triggered mode before further triggers overrun.
        trigger_timeout_s: A trigger that got no frame after this long is missed.
    """

    def __init__(self, queue_size: int = 8, trigger_timeout_s: float = 2.0) -> None:
        if queue_size < 1:
            msg = f"frame queue size must be at least 1, got {queue_size}"
            raise ValueError(msg)
        self.queue_size = queue_size
        self.trigger_timeout_s = trigger_timeout_s
        self.on_missed: MissedHandler | None = None
        self._cond = threading.Condition()
        self._frames: collections.deque[Frame] = collections.deque()
        self._armed: collections.deque[Trigger] = collections.deque()
        self._triggered = self._every_frame = False
        self._closed = False
        self._received = self._dropped = self._overruns = self._missed = 0
        self._arrivals: collections.deque[float] = collections.deque()

    # --- mode --------------------------------------------------------------------------------------

    @property
    def triggered(self) -> bool:
        """Frames are queued per trigger (False: newest frame only)."""
        return self._triggered

    def set_mode(self, triggered: bool, every_frame: bool = False) -> None:
        """Switch between free run and triggered; frames waiting are discarded, armed triggers are missed."""
        with self._cond:
            self._triggered, self._every_frame = bool(triggered), bool(every_frame)
            self._frames.clear()
            pending = list(self._armed)
            self._armed.clear()
        self._report_missed([(t, "trigger cancelled: the acquisition mode changed") for t in pending])

    def arm(self, trigger: Trigger) -> None:
        """A software trigger: the next frame after ``trigger.time`` belongs to it (triggered mode only)."""
        with self._cond:
            if not self._triggered:
                msg = "the source is in free run: switch it to triggered mode before triggering"
                raise RuntimeError(msg)
            self._armed.append(trigger)

    # --- producer side -----------------------------------------------------------------------------

    def put(self, frame: Frame) -> None:
        """Hand over a new frame (the source's producing thread); never blocks."""
        missed: list[tuple[Trigger, str]] = []
        with self._cond:
            self._closed = False
            self._received += 1
            self._count_arrival(frame.timestamp)
            if not self._triggered:
                if self._frames:
                    self._dropped += 1
                    self._frames.clear()
                self._frames.append(frame)
            else:
                missed = self._expire(frame.timestamp)
                self._queue_triggered(frame, missed)
            self._cond.notify_all()
        self._report_missed(missed)

    def miss(self, trigger: Trigger, reason: str) -> None:
        """A part whose frame was lost before it reached the slot (e.g. overwritten in a camera's ring)."""
        with self._cond:
            self._missed += 1
        self._report_missed([(trigger, reason)])

    def close(self) -> None:
        """No more frames are coming (the source stopped or ended): waits return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget frames not taken yet (a restart: they are stale)."""
        with self._cond:
            self._frames.clear()

    # --- consumer side -----------------------------------------------------------------------------

    def take(self) -> Frame | None:
        """The newest frame (free run) or the oldest queued one (triggered) not taken before, or None."""
        with self._cond:
            missed = self._expire(time.monotonic()) if self._triggered else []
            frame = self._frames.popleft() if self._frames else None
        self._report_missed(missed)
        return frame

    def wait(self, timeout: float) -> Frame | None:
        """Wait up to ``timeout`` s for a frame (never on the GUI thread); None at once when closed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._frames and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05) if self._armed else left)
                if self._armed and self._expire_due():
                    break
        return self.take()

    def counters(self) -> SlotCounters:
        """A snapshot of the counters and the arrival rate."""
        with self._cond:
            return SlotCounters(self._received, self._dropped, self._overruns, self._missed,
                                len(self._frames), self._fps())  # fmt: skip

    def reset_counters(self) -> None:
        """Zero received/dropped/overrun/missed (the arrival history stays)."""
        with self._cond:
            self._received = self._dropped = self._overruns = self._missed = 0

    # --- internals (called with the lock held) ------------------------------------------------------

    def _queue_triggered(self, frame: Frame, missed: list[tuple[Trigger, str]]) -> None:
        if self._armed and self._armed[0].time <= frame.timestamp:
            trigger = self._armed.popleft()
        elif self._every_frame:
            trigger = Trigger(0, "", frame.timestamp)  # a hardware trigger nobody announced
        else:
            return  # no trigger asked for this frame: it is not a part
        if len(self._frames) >= self.queue_size:
            self._overruns += 1
            missed.append((trigger, f"{OVERRUN}: {len(self._frames)} frames already wait to be judged"))
            return
        self._frames.append(replace(frame, trigger=trigger))

    def _expire_due(self) -> bool:
        return bool(self._armed) and time.monotonic() - self._armed[0].time > self.trigger_timeout_s

    def _expire(self, now: float) -> list[tuple[Trigger, str]]:
        out = []
        while self._armed and now - self._armed[0].time > self.trigger_timeout_s:
            self._missed += 1
            out.append((self._armed.popleft(), f"{NO_FRAME} within {self.trigger_timeout_s:g} s"))
        return out

    def _report_missed(self, missed: list[tuple[Trigger, str]]) -> None:
        handler = self.on_missed
        for trigger, reason in missed:
            if handler is not None:
                handler(trigger, reason)

    def _count_arrival(self, t: float) -> None:
        self._arrivals.append(t)
        while self._arrivals and t - self._arrivals[0] > FPS_WINDOW_S:
            self._arrivals.popleft()

    def _fps(self) -> float:
        if len(self._arrivals) < 2 or time.monotonic() - self._arrivals[-1] > FPS_WINDOW_S:
            return 0.0
        span = self._arrivals[-1] - self._arrivals[0]
        return (len(self._arrivals) - 1) / span if span > 0 else 0.0
