"""A small shared-memory ring with latest-frame semantics, written by the acquisition process.

Layout (little-endian): a ring header, one slot header per slot, then the slot data areas.

* The writer (one process) fills slot ``(seq - 1) % slots`` for frame number ``seq`` (1, 2, ...): it first
  stores ``writing = seq``, then the pixels and metadata, then ``written = seq`` and finally the ring's
  ``latest = seq``.
* A reader takes ``latest``, checks that the slot still says ``written == seq``, copies the pixels and
  checks ``writing == seq`` again; if the writer lapped it meanwhile it retries with the newer frame.
  Readers never block the writer and never see a torn frame.
* The ring header also carries the writer's counters (received, incomplete, lost), its measured fps and a
  heartbeat, so the application can see that the acquisition process is alive without asking it.

The process that creates the ring owns it and unlinks it; others attach by name. A ring is named
``draem_<creator pid>_<random>``: when the whole process group is killed (``kill -9``) nobody unlinks it,
and :func:`remove_stale_rings` (run before a process creates its first ring, and at program start) removes
the rings whose creator is gone. It touches no other shared memory.
"""

from __future__ import annotations

import os
import re
import secrets
import struct
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

MAGIC = b"DRAEMRNG"
VERSION = 1
_RING = struct.Struct(
    "<8sIIQQQQQdd"
)  # magic, version, slots, capacity, latest, received, incomplete, lost, fps, beat
_SLOT = struct.Struct(
    "<QQQdQIIIIQI"
)  # writing, written, frame_id, timestamp, device_ts, h, w, channels, dtype, nbytes, flags
_RING_SIZE = 128
_SLOT_SIZE = 96
_DTYPES = {1: np.dtype(np.uint8), 2: np.dtype(np.uint16)}
_FLAG_INCOMPLETE = 1
_MAX_RETRIES = 8
NAME_PREFIX = "draem_"  # our segments only: draem_<pid of the creating process>_<8 hex digits>
_NAME = re.compile(rf"{NAME_PREFIX}(\d+)_[0-9a-f]{{8}}")
SHM_FOLDER = Path("/dev/shm")  # where Linux shows POSIX shared memory; other systems: nothing to sweep
_swept = False  # stale rings removed in this process already


@dataclass(frozen=True)
class RingFrame:
    """One frame copied out of the ring."""

    seq: int  # ring sequence number (1, 2, ...): gaps between reads are frames the reader skipped
    image: np.ndarray  # (H, W) or (H, W, 3), uint8 or uint16, a private copy
    frame_id: int  # camera block id
    timestamp: float  # host time.monotonic() when the frame arrived in the acquisition process
    device_timestamp: int  # camera timestamp in ns, 0 when the device has none
    incomplete: bool  # the device flagged the buffer as incomplete


@dataclass(frozen=True)
class RingCounters:
    """The writer's counters, as last published."""

    latest: int  # sequence number of the newest complete frame, 0 before the first
    received: int  # buffers fetched from the device
    incomplete: int  # buffers the device flagged incomplete
    lost: int  # frames the device sent that never reached the ring (camera block-id gaps)
    fps: float  # arrival rate measured by the writer
    heartbeat: float  # writer's time.monotonic() at its last loop iteration


class ShmRing:
    """Shared-memory ring of ``slots`` frames of at most ``capacity`` bytes each."""

    def __init__(self, shm: shared_memory.SharedMemory, owner: bool) -> None:
        self._shm = shm
        self._owner = owner
        magic, version, self.slots, self.capacity, *_ = _RING.unpack_from(shm.buf, 0)
        if magic != MAGIC or version != VERSION:
            shm.close()
            msg = f"shared memory {shm.name} is not a frame ring of version {VERSION}"
            raise ValueError(msg)

    @classmethod
    def create(cls, slots: int, capacity: int) -> ShmRing:
        """Create a new ring (the caller owns it and must :meth:`unlink` it)."""
        global _swept
        if not _swept:
            _swept = True
            remove_stale_rings()
        capacity = -(-capacity // 64) * 64
        size = _RING_SIZE + slots * _SLOT_SIZE + slots * capacity
        name = f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        shm = shared_memory.SharedMemory(name=name, create=True, size=size)
        shm.buf[: _RING_SIZE + slots * _SLOT_SIZE] = bytes(_RING_SIZE + slots * _SLOT_SIZE)
        _RING.pack_into(shm.buf, 0, MAGIC, VERSION, slots, capacity, 0, 0, 0, 0, 0.0, 0.0)
        return cls(shm, owner=True)

    @classmethod
    def attach(cls, name: str) -> ShmRing:
        """Attach to a ring another process created."""
        return cls(shared_memory.SharedMemory(name=name), owner=False)

    @property
    def name(self) -> str:
        """System-wide name to :meth:`attach` to."""
        return self._shm.name

    def _slot_offset(self, seq: int) -> tuple[int, int]:
        index = (seq - 1) % self.slots
        return _RING_SIZE + index * _SLOT_SIZE, _RING_SIZE + self.slots * _SLOT_SIZE + index * self.capacity

    # --- writer side -------------------------------------------------------------------------------

    def write(
        self,
        image: np.ndarray,
        frame_id: int,
        timestamp: float,
        device_timestamp: int = 0,
        incomplete: bool = False,
    ) -> int:
        """Publish one frame; returns its sequence number, or 0 if it does not fit in a slot."""
        image = np.ascontiguousarray(image)
        code = next((c for c, dt in _DTYPES.items() if dt == image.dtype), None)
        if code is None or image.nbytes > self.capacity:
            return 0
        seq = self.counters().latest + 1
        head, data = self._slot_offset(seq)
        struct.pack_into("<Q", self._shm.buf, head, seq)
        self._shm.buf[data : data + image.nbytes] = image.reshape(-1).view(np.uint8)
        channels = 1 if image.ndim == 2 else image.shape[2]
        flags = _FLAG_INCOMPLETE if incomplete else 0
        _SLOT.pack_into(
            self._shm.buf,
            head,
            seq,
            seq,
            frame_id,
            timestamp,
            device_timestamp,
            image.shape[0],
            image.shape[1],
            channels,
            code,
            image.nbytes,
            flags,
        )
        struct.pack_into("<Q", self._shm.buf, 24, seq)
        return seq

    def publish_counters(
        self, received: int, incomplete: int, lost: int, fps: float, heartbeat: float
    ) -> None:
        """Store the writer's counters and heartbeat in the ring header."""
        struct.pack_into("<QQQdd", self._shm.buf, 32, received, incomplete, lost, fps, heartbeat)

    # --- reader side -------------------------------------------------------------------------------

    def counters(self) -> RingCounters:
        """The counters last published by the writer."""
        *_, latest, received, incomplete, lost, fps, beat = _RING.unpack_from(self._shm.buf, 0)
        return RingCounters(latest, received, incomplete, lost, fps, beat)

    def read_latest(self, after: int = 0) -> RingFrame | None:
        """Copy the newest frame if its sequence number is above ``after``; None otherwise."""
        for _ in range(_MAX_RETRIES):
            seq = self.counters().latest
            if seq <= after:
                return None
            frame = self._copy(seq)
            if frame is not None:
                return frame
        return None  # the writer lapped us every time: only at absurd frame rates; the next call succeeds

    def read(self, seq: int) -> RingFrame | None:
        """Copy frame ``seq`` if the ring still holds it; None once it was overwritten (or not yet written)."""
        return self._copy(seq)

    def _copy(self, seq: int) -> RingFrame | None:
        head, data = self._slot_offset(seq)
        _, written, frame_id, ts, dev_ts, h, w, ch, code, nbytes, flags = _SLOT.unpack_from(
            self._shm.buf, head
        )
        if written != seq or code not in _DTYPES:
            return None
        raw = np.frombuffer(self._shm.buf[data : data + nbytes], dtype=np.uint8).copy()
        if struct.unpack_from("<Q", self._shm.buf, head)[0] != seq:
            return None  # overwritten while we copied
        shape = (h, w) if ch == 1 else (h, w, ch)
        image = raw.view(_DTYPES[code]).reshape(shape)
        return RingFrame(seq, image, frame_id, ts, dev_ts, bool(flags & _FLAG_INCOMPLETE))

    # --- life cycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Detach from the memory; the owner also removes it from the system."""
        try:
            self._shm.close()
        except BufferError:  # a view is still exported somewhere; the OS frees it with the process
            pass
        if self._owner:
            try:
                self._shm.unlink()
            except FileNotFoundError:
                pass
            self._owner = False


def remove_stale_rings(folder: Path = SHM_FOLDER) -> list[str]:
    """Remove the rings left by processes that are gone (killed before they could unlink them).

    Only names of our pattern count, and only when their creator process no longer exists (a live process,
    or a pid reused by another one, keeps its segment). Returns the names removed.
    """
    if os.name != "posix":  # Windows frees shared memory with its last handle: nothing is ever left
        return []
    try:
        entries = sorted(p.name for p in folder.iterdir())
    except OSError:  # no such folder (macOS has none) or not readable: nothing to do
        return []
    removed = []
    for name in entries:
        match = _NAME.fullmatch(name)
        if match is None or _process_exists(int(match.group(1))):
            continue
        try:
            (folder / name).unlink()
        except OSError:  # removed meanwhile, or another user's segment
            continue
        removed.append(name)
    return removed


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
