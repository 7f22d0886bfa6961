"""How the station runs blocking work (opening cameras, loading models, closing sources) off the caller's thread.

The station is given a ``run(fn, on_done, on_failed)`` callable. The GUI passes
:func:`app.gui.tasks.run_task` (the outcome comes back on the GUI thread); headless use passes
:class:`ThreadJobs`, whose outcome callbacks run on its worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

log = logging.getLogger(__name__)

Done = Callable[[object], None]
Failed = Callable[[BaseException], None]


class JobRunner(Protocol):
    """``run(fn, on_done, on_failed)``: call ``fn()`` elsewhere, then ``on_done(result)`` or ``on_failed(exc)``."""

    def __call__(self, fn: Callable[[], object], on_done: Done | None = None,
                 on_failed: Failed | None = None) -> None: ...  # fmt: skip


class ThreadJobs:
    """A small thread pool as a :class:`JobRunner`; :meth:`wait_idle` waits for every job to finish.

    Args:
        workers: Threads (jobs mostly wait on cameras and disks).
    """

    def __init__(self, workers: int = 4) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="station-job")
        self._pending = 0
        self._idle = threading.Condition()

    def __call__(self, fn: Callable[[], object], on_done: Done | None = None,
                 on_failed: Failed | None = None) -> None:  # fmt: skip
        with self._idle:
            self._pending += 1
        self._pool.submit(self._job, fn, on_done, on_failed)

    def _job(self, fn: Callable[[], object], on_done: Done | None, on_failed: Failed | None) -> None:
        try:
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to on_failed, never lost
                if on_failed is not None:
                    on_failed(exc)
                else:
                    log.error("background job failed: %s: %s", type(exc).__name__, exc)
            else:
                if on_done is not None:
                    on_done(result)
        except Exception:  # noqa: BLE001 - a callback failed: log it, the pool goes on
            log.exception("background job callback failed")
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is pending; True if that happened within ``timeout`` s."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def shutdown(self) -> None:
        """Stop taking jobs; running ones finish on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
