"""The shared-memory ring: latest-frame semantics, counters, no torn frames, no leftovers after kill -9."""

from __future__ import annotations

import multiprocessing as mp
import os
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from camera_helpers import requires_simulator

from app.camera.shm_ring import NAME_PREFIX, SHM_FOLDER, ShmRing, remove_stale_rings


@pytest.fixture
def ring():
    ring = ShmRing.create(slots=3, capacity=64 * 64 * 3 * 2)
    yield ring
    ring.close()


def test_latest_frame_semantics_and_metadata(ring):
    assert ring.read_latest() is None
    for i in range(5):
        image = np.full((4, 5, 3), i, np.uint8)
        assert (
            ring.write(image, frame_id=100 + i, timestamp=1.5 + i, device_timestamp=7 * i, incomplete=i == 4)
            == i + 1
        )
    frame = ring.read_latest()
    assert (
        frame.seq == 5 and frame.frame_id == 104 and frame.timestamp == 5.5 and frame.device_timestamp == 28
    )
    assert frame.incomplete
    np.testing.assert_array_equal(frame.image, np.full((4, 5, 3), 4, np.uint8))
    assert ring.read_latest(after=5) is None  # nothing newer


def test_uint16_mono_and_too_big(ring):
    image = np.arange(30 * 20, dtype=np.uint16).reshape(30, 20) * 7
    seq = ring.write(image, frame_id=1, timestamp=0.0)
    np.testing.assert_array_equal(ring.read_latest().image, image)
    assert ring.write(np.zeros((100, 100, 3), np.uint16), frame_id=2, timestamp=0.0) == 0
    assert ring.counters().latest == seq


def test_counters_round_trip(ring):
    ring.publish_counters(received=10, incomplete=2, lost=3, fps=19.5, heartbeat=123.25)
    c = ring.counters()
    assert (c.received, c.incomplete, c.lost, c.fps, c.heartbeat) == (10, 2, 3, 19.5, 123.25)


def test_attach_rejects_foreign_memory():
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=256)
    try:
        with pytest.raises(ValueError, match="not a frame ring"):
            ShmRing.attach(shm.name)
    finally:
        shm.close()
        shm.unlink()


def _writer(name: str, count: int) -> None:
    ring = ShmRing.attach(name)
    for i in range(1, count + 1):
        ring.write(np.full((48, 64), i % 251, np.uint8), frame_id=i, timestamp=float(i))
        if i % 10 == 0:
            time.sleep(0.001)  # a loaded machine may not schedule the reader while a tight loop writes all 3000
    ring.close()


def test_reader_never_sees_torn_frame_from_other_process(ring):
    proc = mp.get_context("spawn").Process(target=_writer, args=(ring.name, 3000))
    proc.start()
    last, seen = 0, 0
    while proc.is_alive() or ring.counters().latest > last:
        frame = ring.read_latest(after=last)
        if frame is None:
            continue
        assert frame.seq > last
        assert frame.image.min() == frame.image.max() == frame.frame_id % 251  # one frame, not a mix
        last, seen = frame.seq, seen + 1
    proc.join(10)
    assert proc.exitcode == 0
    assert last == 3000 and seen > 1


# --- leftovers of killed processes ---------------------------------------------------------------------

linux_shm = pytest.mark.skipif(not SHM_FOLDER.is_dir(), reason="no /dev/shm (not Linux)")

# A station that acquires from the simulated camera and then waits to be killed.
STATION = """
import time
from app.sources.factory import open_source

source = open_source("sim")
source.open()
source.start()
while source.wait_latest(0.5) is None:
    pass
print("acquiring", flush=True)
time.sleep(300)
"""


def ours(pid: int) -> list[str]:
    """Names of the rings in shared memory created by process ``pid``."""
    return sorted(p.name for p in SHM_FOLDER.glob(f"{NAME_PREFIX}{pid}_*"))


def dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(proc.stdout)


@linux_shm
def test_sweep_removes_only_rings_of_dead_creators(ring):
    # a file in /dev/shm is a POSIX shared-memory segment: as a killed process leaves it
    stale = SHM_FOLDER / f"{NAME_PREFIX}{dead_pid()}_0123abcd"
    foreign = SHM_FOLDER / f"{NAME_PREFIX}not_ours"  # another pattern: never touched
    for segment in (stale, foreign):
        segment.write_bytes(bytes(64))
    try:
        assert ring.name.startswith(f"{NAME_PREFIX}{os.getpid()}_")  # named after its creator
        assert stale.name in remove_stale_rings()  # (other runs' leftovers may go too)
        assert not stale.exists()
        assert (SHM_FOLDER / ring.name).exists() and foreign.exists()  # creator alive / not ours
    finally:
        for segment in (stale, foreign):
            segment.unlink(missing_ok=True)


@linux_shm
@pytest.mark.camera
@requires_simulator
def test_rings_of_a_killed_process_group_are_removed_at_the_next_start():
    station = subprocess.Popen([sys.executable, "-c", STATION], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    try:
        ready, _, _ = select.select([station.stdout], [], [], 120)
        assert ready and station.stdout.readline().strip() == "acquiring"
        assert ours(station.pid), "the station's frame ring should be in shared memory"
    finally:
        os.killpg(station.pid, signal.SIGKILL)  # the station, its acquisition process, its resource tracker
        station.wait(10)
    leftovers = ours(station.pid)
    assert leftovers, "kill -9 of the whole group leaves the ring behind"
    start = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, timeout=120)
    assert start.returncode == 0, start.stderr
    assert ours(station.pid) == []
