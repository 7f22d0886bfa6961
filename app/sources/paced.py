"""Base for frame sources that make frames in a thread at a set rate (image folder, video file).

The producing thread reads from disk (never the GUI thread) and puts each frame in the source's
:class:`~app.sources.slot.FrameSlot`. Exceptions never escape the thread: they end it with the state ERROR
and ``last_error`` set.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from app.sources.base import Frame, SourceState, SourceStats
from app.sources.errors import SourceError
from app.sources.slot import FrameSlot


class PacedSource:
    """A FrameSource whose subclasses supply :meth:`_open_resource`, :meth:`_next_image`, :meth:`_close_resource`.

    Args:
        name: Shown to the operator and used as ``Frame.source_id`` unless the subclass gives one.
        fps: Frames per second to deliver (> 0).
    """

    def __init__(self, name: str, fps: float) -> None:
        if not fps > 0:
            msg = f"{name}: frame rate must be positive, got {fps}"
            raise ValueError(msg)
        self.name = name
        self.fps = float(fps)
        self.slot = FrameSlot()
        self._state = SourceState.CLOSED
        self._produced = 0
        self._last_error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- hooks -------------------------------------------------------------------------------------

    def _open_resource(self) -> None:
        """Check and open the underlying files; raise SourceError with the path and reason."""

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        """The next ``(image, source_id)``, or None when the source is exhausted (no looping)."""
        raise NotImplementedError

    def _close_resource(self) -> None:
        """Release files."""

    def _extra(self) -> dict:
        """Source-specific counters for ``SourceStats.extra``."""
        return {}

    # --- FrameSource -------------------------------------------------------------------------------

    def open(self) -> None:
        if self._state == SourceState.CLOSED:
            self._open_resource()
            self._state = SourceState.OPEN

    def start(self) -> None:
        self.open()
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._state = SourceState.LIVE
        self._thread = threading.Thread(target=self._run, name=f"{self.name} reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        if self._state == SourceState.LIVE:
            self._state = SourceState.OPEN
        self.slot.close()

    def close(self) -> None:
        self.stop()
        if self._state != SourceState.CLOSED:
            self._close_resource()
        self._state = SourceState.CLOSED

    def latest(self) -> Frame | None:
        return self.slot.take()

    def wait_latest(self, timeout: float) -> Frame | None:
        return self.slot.wait(timeout)

    def stats(self) -> SourceStats:
        c = self.slot.counters()
        return SourceStats(
            state=self._state,
            received=c.received,
            dropped=c.dropped,
            overruns=c.overruns,
            fps=c.fps if self._state == SourceState.LIVE else 0.0,
            last_error=self._last_error,
            extra=self._extra(),
        )

    # --- producing thread --------------------------------------------------------------------------

    def _run(self) -> None:
        period = 1.0 / self.fps
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                item = self._next_image()
                if item is None:
                    self._state = SourceState.OPEN  # finished: no looping
                    self.slot.close()
                    return
                self._publish(*item)
                due = max(due + period, time.monotonic() - period)  # never burst to catch up
                self._stop.wait(max(0.0, due - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - the thread must never die silently
            self._last_error = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
            self._state = SourceState.ERROR
            self.slot.close()

    def _publish(self, image: np.ndarray, source_id: str) -> None:
        self._produced += 1
        self.slot.put(Frame(image, self._produced, time.monotonic(), source_id=source_id))
