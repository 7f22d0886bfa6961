"""Background jobs for the wizard: a plain-Python generator run on its own QThread.

Disk writes, image loading, scoring and synthesis never run on the GUI thread. A :class:`Job` runs a
function ``fn(should_stop)`` on a QThread; when it returns an iterator, each item comes back as
``itemReady`` on the GUI thread (a plain return value comes back as one item). Exceptions never escape the
worker: ``failed`` is emitted, then ``finished`` (house style §8).
"""

from __future__ import annotations

import atexit
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from draem_core.errors import DraemError

JobFn = Callable[[Callable[[], bool]], Any]  # fn(should_stop) -> iterator of items, or one value
_ALIVE: set[Job] = set()  # running jobs stay referenced until their thread ends, even if their owner is gone


class _Worker(QObject):
    """Lives on the job's thread; runs ``fn`` when the thread starts."""

    yielded = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, fn: JobFn, stop: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._stop = stop

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._stop.is_set)
            if isinstance(result, Iterator):
                for item in result:
                    self.yielded.emit(item)
                    if self._stop.is_set():
                        break
            elif result is not None:
                self.yielded.emit(result)
        except DraemError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001  (a worker reports every failure, it never dies silently)
            self.failed.emit(traceback.format_exception_only(type(exc), exc)[-1].strip())
        finally:
            self.done.emit()


class Job(QObject):
    """One background task; its signals are delivered on the thread that created the job (the GUI)."""

    itemReady = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, fn: JobFn) -> None:
        super().__init__()  # no Qt parent: a closing wizard must not delete a job whose thread still runs
        self._stop = threading.Event()
        self._thread = QThread()
        self._worker = _Worker(fn, self._stop)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.yielded.connect(self._on_item)
        self._worker.failed.connect(self._on_failed)
        self._worker.done.connect(
            self._thread.quit, Qt.ConnectionType.DirectConnection
        )  # ends without the GUI
        # The thread's own "finished" (queued behind every item) ends the job: the GUI never waits for it.
        self._thread.finished.connect(self._on_done)
        self.running = False

    def start(self) -> Job:
        """Start the thread; returns self for chaining."""
        self.running = True
        _ALIVE.add(self)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the function to stop (it polls ``should_stop``)."""
        self._stop.set()

    def wait(self, ms: int = 10_000) -> bool:
        """Block until the thread ended (shutdown only); True when it did."""
        return self._thread.wait(ms)

    @Slot(object)
    def _on_item(self, item: object) -> None:
        self.itemReady.emit(item)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)

    @Slot()
    def _on_done(self) -> None:
        self.running = False
        _ALIVE.discard(self)
        self.finished.emit()


@atexit.register
def _stop_leftovers() -> None:
    """Jobs still running when Python exits are stopped and joined (Qt aborts on a running QThread)."""
    for job in list(_ALIVE):
        job.stop()
        job.wait(5_000)


class JobSet:
    """The jobs of one wizard: started with callbacks, all stopped together on close."""

    def __init__(self) -> None:
        self._jobs: set[Job] = set()

    def start(self, fn: JobFn, on_item: Callable[[Any], None] | None = None,
              on_failed: Callable[[str], None] | None = None,
              on_finished: Callable[[], None] | None = None) -> Job:  # fmt: skip
        """Run ``fn`` in the background; the callbacks run on the GUI thread."""
        job = Job(fn)
        if on_item is not None:
            job.itemReady.connect(on_item)
        if on_failed is not None:
            job.failed.connect(on_failed)
        if on_finished is not None:
            job.finished.connect(on_finished)
        job.finished.connect(lambda j=job: self._forget(j))
        self._jobs.add(job)
        return job.start()

    def _forget(self, job: Job) -> None:
        self._jobs.discard(job)

    @property
    def busy(self) -> bool:
        """Some job is still running."""
        return any(j.running for j in self._jobs)

    def stop_all(self, wait_ms: int = 10_000) -> None:
        """Ask every job to stop and wait for their threads (on close)."""
        jobs = list(self._jobs)
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(wait_ms)
