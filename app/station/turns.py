"""Cameras take turns on the inference device: one model runs at a time, in the order the cameras asked.

Every camera has its own worker thread (:class:`~app.pipeline.InspectionPipeline`). Left alone, several workers
run their models at once: on a CPU each brings its own team of math threads, so N cameras oversubscribe the
cores (the core the window keeps for the GUI thread too, see :func:`app.gui.app.reserve_gui_core`), and a
plain lock is no better, because the thread that just released it usually takes it again and another camera
starves. :class:`DeviceTurns` is a first-come-first-served (ticket) lock: a camera that waits gets the device
before any camera that asks after it, so each camera gets a turn per round whatever its model's speed.

Batching the frames of cameras that run the same network was measured instead and is not used: on the CPU a
batch of two costs what two single frames cost (``bench/multicam.py --only forward``, docs/benchmarks.md §11), and it
would make each camera wait for the others' frames.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class DeviceTurns:
    """A fair lock around model inference, shared by every camera of a station (thread-safe)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0  # the ticket the next caller draws
        self._serving = 0  # the ticket whose holder may run now
        self.turns = 0  # turns given so far (for tests and statistics)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the device for one inference; waits for every camera that asked earlier (never on the GUI thread)."""
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()
            self.turns += 1
        try:
            yield
        finally:
            with self._cond:
                self._serving += 1
                self._cond.notify_all()

    @property
    def waiting(self) -> int:
        """Cameras that hold or wait for the device now."""
        with self._cond:
            return self._next_ticket - self._serving


def no_turns() -> contextlib.AbstractContextManager[None]:
    """Inference without taking turns (a pipeline on its own, or a station configured to run models at once)."""
    return contextlib.nullcontext()
