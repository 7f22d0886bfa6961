"""Which of the station's triggers still wait for their verdicts: the PLC's Busy, and the drain before a recipe
switch (parts in flight finish under the recipe they were triggered under).

Every trigger ends in exactly one record per camera (the verdict contract), in trigger order except that a
trigger missed for lack of a frame may be recorded before an older one still in the queue; the watch keeps,
per camera, the number up to which every trigger has its record.
"""

from __future__ import annotations

import threading
import time

from app.pipeline.record import InspectionRecord

GRACE_S = 2.0  # beyond the trigger timeout, how long verdicts may stall (no camera answers any) before the
# triggers still waiting are taken as lost with their camera


class TriggerWatch:
    """An output of a station that follows its triggers' verdicts (thread-safe, never blocks).

    Args:
        station: The station whose triggers (``last_trigger``) and cameras are watched.
    """

    label = "trigger watch"

    def __init__(self, station) -> None:
        self._station = station
        self._marks: dict[str, int] = {}  # camera -> every trigger up to this number has its record
        self._early: dict[str, set[int]] = {}  # camera -> numbers above the mark that have theirs
        self._progress = 0.0  # time.monotonic() of the last verdict of a trigger
        self._changed = threading.Condition()

    def submit(self, record: InspectionRecord) -> None:
        """Note a verdict of a trigger (records of free-run frames and unannounced hardware triggers are not)."""
        number = record.trigger
        if number < 1:
            return
        with self._changed:
            mark = self._marks.setdefault(record.camera, number - 1)  # a camera's first record: it starts there
            if number <= mark:
                return
            early = self._early.setdefault(record.camera, set())
            early.add(number)
            while mark + 1 in early:
                mark += 1
                early.discard(mark)
            self._marks[record.camera] = mark
            self._progress = time.monotonic()
            self._changed.notify_all()

    def close(self) -> None:
        """Nothing to release (an output's interface)."""

    def answered(self, number: int, cameras: list[str]) -> bool:
        """Every camera in ``cameras`` has recorded every trigger up to ``number``."""
        with self._changed:
            return all(self._marks.get(c, 0) >= number for c in cameras)

    def in_flight(self) -> bool:
        """A trigger the station issued still waits for a camera's verdict. Verdicts that stop coming for longer
        than the trigger timeout (and a grace) are not waited for: those triggers went with their camera."""
        station = self._station
        last = station.last_trigger
        if last is None or time.monotonic() - max(last.time, self._progress) > station.config.trigger_timeout_s + GRACE_S:
            return False
        return not self.answered(last.number, [c.pipeline.camera_id for c in station.cameras])

    def drain(self, timeout: float) -> bool:
        """Wait until no trigger is in flight; True if that happened within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.in_flight():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))  # also wakes to notice an overdue trigger
        return True
