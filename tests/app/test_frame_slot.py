"""The one frame slot: free-run newest-frame semantics, and triggered queues where no trigger goes missing."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from app.sources.base import Frame, Trigger
from app.sources.slot import FrameSlot

IMAGE = np.zeros((4, 4), np.uint8)


def frame(i: int, t: float) -> Frame:
    return Frame(IMAGE, i, t)


def missed_log(slot: FrameSlot) -> list[tuple[int, str]]:
    log: list[tuple[int, str]] = []
    slot.on_missed = lambda trigger, reason: log.append((trigger.number, reason))
    return log


def test_free_run_keeps_the_newest_frame_and_counts_the_replaced_ones() -> None:
    slot = FrameSlot()
    for i in range(1, 4):
        slot.put(frame(i, time.monotonic()))
    assert slot.take().frame_id == 3
    assert slot.take() is None  # a frame is returned once
    c = slot.counters()
    assert (c.received, c.dropped, c.queued) == (3, 2, 0)


def test_wait_returns_a_frame_from_another_thread_and_at_once_when_closed() -> None:
    slot = FrameSlot()
    threading.Timer(0.05, lambda: slot.put(frame(7, time.monotonic()))).start()
    assert slot.wait(5.0).frame_id == 7
    slot.close()
    t0 = time.monotonic()
    assert slot.wait(5.0) is None
    assert time.monotonic() - t0 < 2.0  # closed: no waiting out the timeout


def test_a_trigger_takes_the_next_frame_after_it_and_frames_nobody_asked_for_are_skipped() -> None:
    slot = FrameSlot()
    slot.set_mode(True)
    slot.put(frame(1, 10.0))  # before any trigger: not a part
    slot.arm(Trigger(1, "A", 10.5))
    slot.arm(Trigger(2, "B", 10.6))
    slot.put(frame(2, 10.4))  # older than the triggers: still not theirs
    slot.put(frame(3, 11.0))
    slot.put(frame(4, 11.1))
    slot.put(frame(5, 11.2))  # both triggers served: not a part
    got = [slot.take(), slot.take(), slot.take()]
    assert [(f.frame_id, f.trigger.number, f.trigger.part_id) for f in got[:2]] == [(3, 1, "A"), (4, 2, "B")]
    assert got[2] is None


def test_a_full_queue_reports_the_overrun_trigger_instead_of_dropping_it() -> None:
    slot = FrameSlot(queue_size=2)
    log = missed_log(slot)
    slot.set_mode(True)
    now = time.monotonic()
    for n in range(1, 5):
        slot.arm(Trigger(n, f"p{n}", now))
    for i in range(1, 5):
        slot.put(frame(i, now + i * 1e-3))
    assert [f.trigger.number for f in (slot.take(), slot.take())] == [1, 2]
    assert [n for n, _ in log] == [3, 4] and all(r.startswith("queue overrun") for _, r in log)
    assert slot.counters().overruns == 2


def test_a_trigger_without_a_frame_is_reported_after_the_timeout() -> None:
    slot = FrameSlot(trigger_timeout_s=0.1)
    log = missed_log(slot)
    slot.set_mode(True)
    slot.arm(Trigger(1, "late", time.monotonic()))
    assert slot.wait(2.0) is None
    assert log == [(1, "no frame after the trigger within 0.1 s")]
    assert slot.counters().missed == 1


def test_every_frame_of_a_triggered_camera_is_a_part_paired_with_waiting_triggers() -> None:
    slot = FrameSlot()
    slot.set_mode(True, every_frame=True)
    slot.arm(Trigger(1, "from the PLC", 1.0))
    slot.put(frame(10, 1.5))
    slot.put(frame(11, 1.6))  # a hardware trigger nobody announced
    first, second = slot.take(), slot.take()
    assert (first.frame_id, first.trigger.part_id) == (10, "from the PLC")
    assert (second.frame_id, second.trigger.number) == (11, 0)


def test_switching_modes_reports_armed_triggers_and_free_run_refuses_triggers() -> None:
    slot = FrameSlot()
    log = missed_log(slot)
    slot.set_mode(True)
    slot.arm(Trigger(5, "", time.monotonic()))
    slot.set_mode(False)
    assert [n for n, _ in log] == [5] and "mode changed" in log[0][1]
    with pytest.raises(RuntimeError, match="free run"):
        slot.arm(Trigger(6, "", time.monotonic()))
