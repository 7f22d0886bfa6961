"""NG images: the frame and its heatmap overlay saved for every rejected part, rate-limited, within a quota.

The inspection worker hands NG results to :meth:`NgStore.submit`, which never blocks: a small queue feeds
a writer thread. At most ``max_per_second`` results are kept (a burst of rejects would otherwise fill the
disk with near-identical images). The folder is kept under ``quota_mb``: once it is over, the oldest NG images
are deleted until it is under ``QUOTA_LOW`` of the quota. Only the folder's byte count is held in memory, never a
list of its images (a quota of small images is hundreds of thousands of files: a list of them grew by ~6 MB an
hour in a soak); the folder is scanned when the quota is passed. Only files this store names
(``*_frame.png``/``*_overlay.jpg``) are ever deleted, never the trace database.
When the disk is full (ENOSPC) saving pauses with a warning and is retried after ``retry_after_s``;
inspection is not affected.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import logging
import os
import queue
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from app.pipeline.record import InspectionRecord
from app.sources.base import Frame
from draem_core.imageio import to_uint8_rgb, write_image_atomic
from draem_core.inspector import InspectionResult
from draem_core.overlay import heatmap_overlay

log = logging.getLogger(__name__)

FRAME_SUFFIX = "_frame.png"  # lossless: the frame may be used to retrain
OVERLAY_SUFFIX = "_overlay.jpg"  # for people: small
QUOTA_LOW = 0.9  # over the quota, the oldest images are deleted until the folder is under this share of it


@dataclass(frozen=True)
class NgStoreConfig:
    """Where and how much."""

    folder: Path  # where the images go (created if needed)
    max_per_second: float = 2.0  # NG results saved per second at most; the rest are counted as skipped
    quota_mb: float = 2048.0  # the folder's NG images are kept under this size (oldest deleted first)
    overlay_alpha: float = 0.45  # heatmap weight in the overlay image
    queue_size: int = 8  # results waiting for the writer; more are skipped
    retry_after_s: float = 60.0  # after a full disk, try saving again after this long


class NgStoreState(enum.Enum):
    """Whether NG images are being saved."""

    SAVING = "saving"
    DISK_FULL = "disk full"  # paused; inspection continues
    FAILED = "failed"  # the last write failed for another reason; later writes are still tried


class NgStore:
    """Saves NG frames and overlays from a writer thread.

    Args:
        config: Folder, rate and quota.
        write: Writes one image atomically (``write_image_atomic``; replaceable to simulate a full disk).
        on_error: The app-level error sink, called as ``on_error("NG images", exc)``.
    """

    def __init__(
        self,
        config: NgStoreConfig,
        *,
        write: Callable[[Path, np.ndarray], Path] = write_image_atomic,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.config = config
        self._write = write
        self._on_error = on_error
        self.folder = Path(config.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state = NgStoreState.SAVING
        self.warning = ""  # one line for the operator when not SAVING
        self.saved = 0  # NG results written
        self.skipped = 0  # NG results not written (rate limit, queue full, paused)
        self._paused_until = 0.0
        self._last_accept = -1e9
        self._bytes = int(_scan(self.folder)[1].sum())  # of the folder's NG images: counted, rescanned over quota
        self._queue: queue.Queue = queue.Queue(config.queue_size)
        self._thread = threading.Thread(target=self._run, name="ng-store", daemon=True)
        self._thread.start()

    @property
    def used_bytes(self) -> int:
        """Bytes of NG images in the folder."""
        return self._bytes

    def submit(self, frame: Frame, result: InspectionResult | None, record: InspectionRecord) -> bool:
        """Queue a rejected part for saving (``result`` None: NOT_JUDGED without a map); False if it was skipped
        (rate, queue, disk full). Never blocks."""
        now = time.monotonic()
        if now < self._paused_until or now - self._last_accept < 1.0 / self.config.max_per_second:
            self.skipped += 1
            return False
        try:
            self._queue.put_nowait((frame, result, record))
        except queue.Full:
            self.skipped += 1
            return False
        self._last_accept = now
        return True

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queue is written (tests, shutdown); True if it was."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued and end the writer thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._save(*item)
            except Exception as exc:  # noqa: BLE001 - the writer thread never dies
                self._failed(exc)
            finally:
                self._queue.task_done()

    def _save(self, frame: Frame, result: InspectionResult | None, record: InspectionRecord) -> None:
        if time.monotonic() < self._paused_until:
            self.skipped += 1
            return
        stem = self.folder / _stem(record)
        image = to_uint8_rgb(frame.image)
        overlay = (heatmap_overlay(image, result.anomaly_map, self.config.overlay_alpha, _map_level(result))
                   if result is not None else image)  # NOT_JUDGED without a map: the frame itself
        written = []
        try:
            for path, data in (
                (Path(f"{stem}{FRAME_SUFFIX}"), image),
                (Path(f"{stem}{OVERLAY_SUFFIX}"), overlay),
            ):
                written.append(self._write(path, data))
        except OSError as exc:
            for path in written:
                path.unlink(missing_ok=True)  # never keep a frame without its overlay
            self._write_failed(exc)
            return
        self._bytes += sum(path.stat().st_size for path in written)
        self.saved += 1
        self.state, self.warning = NgStoreState.SAVING, ""
        self._enforce_quota()

    def _write_failed(self, exc: OSError) -> None:
        self.skipped += 1
        if exc.errno == errno.ENOSPC:
            self._paused_until = time.monotonic() + self.config.retry_after_s
            self.state = NgStoreState.DISK_FULL
            self.warning = (
                f"disk full at {self.folder}: NG images paused for {self.config.retry_after_s:g} s "
                "(inspection continues)"
            )
            self._report(OSError(exc.errno, self.warning))
        else:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.state = NgStoreState.FAILED
        self.warning = f"could not save NG image in {self.folder}: {exc}"
        self._report(exc)

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("NG images", exc)
        else:
            log.warning("%s", exc)

    def _enforce_quota(self) -> None:
        quota = self.config.quota_mb * 2**20
        if self._bytes > quota:
            self._bytes, error = _delete_oldest(self.folder, self._bytes - int(QUOTA_LOW * quota))
            if error is not None:
                self._failed(error)


def _images(folder: Path) -> Iterator[os.DirEntry]:
    """The folder's NG images (files this store names), in no order."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.endswith((FRAME_SUFFIX, OVERLAY_SUFFIX)) and entry.is_file(follow_symlinks=False):
                yield entry


def _scan(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Modification times (ns) and sizes of the folder's NG images: 16 bytes per image, however many."""
    times, sizes = array("q"), array("q")
    for entry in _images(folder):
        with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
            stat = entry.stat(follow_symlinks=False)
            times.append(stat.st_mtime_ns)
            sizes.append(stat.st_size)
    return np.asarray(times, dtype=np.int64), np.asarray(sizes, dtype=np.int64)


def _delete_oldest(folder: Path, excess: int) -> tuple[int, OSError | None]:
    """Delete the oldest NG images, at least ``excess`` bytes of them, never the newest two files (the pair just
    written); returns the bytes of NG images left and the first error of a file that could not be deleted."""
    times, sizes = _scan(folder)
    if len(times) <= 2 or excess <= 0:
        return int(sizes.sum()), None
    order = np.argsort(times, kind="stable")
    count = min(int(np.searchsorted(np.cumsum(sizes[order]), excess)) + 1, len(times) - 2)
    newest_kept = times[order[-2]]
    cutoff = min(times[order[count - 1]], newest_kept - 1)  # everything at or before it goes (ties included)
    left, error = int(sizes.sum()), None
    for entry in _images(folder):
        try:
            stat = entry.stat(follow_symlinks=False)
            if stat.st_mtime_ns <= cutoff:
                os.unlink(entry.path)
                left -= stat.st_size
        except FileNotFoundError:
            continue  # deleted meanwhile
        except OSError as exc:  # e.g. open in a viewer: kept (and counted), the others still go
            error = error or exc
    return left, error


def _stem(record: InspectionRecord) -> str:
    stamp = datetime.fromtimestamp(record.time).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    camera = "".join(c if c.isalnum() or c in "-." else "-" for c in record.camera)[:40] or "source"
    return f"{stamp}_{camera}_{record.frame_id}"


def _map_level(result: InspectionResult) -> float:
    """Outline level on the 0..1 map: the region whose local score would reach the threshold."""
    return float(min(max(result.threshold, 0.05), 0.95))


def default_ng_folder() -> Path:
    """Where NG images go by default: ``<data home>/ng_images``."""
    from app.paths import data_home

    return data_home() / "ng_images"
