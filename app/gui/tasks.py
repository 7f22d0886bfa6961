"""Running blocking calls (camera, disk, model loading) off the GUI thread, with the answer back on it.

``run_task(fn, on_done, on_failed)`` runs ``fn`` on Qt's global thread pool; ``on_done(result)`` or
``on_failed(exception)`` is then called on the GUI thread through a queued signal. The GUI thread never
waits: it only ever receives the outcome. It may be called from any thread (the station is also driven by the
plant interfaces' threads): a call from another thread is passed to the GUI thread first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThread, QThreadPool, Signal, Slot

log = logging.getLogger("draem_inspect")

MAX_THREADS = 8  # tasks mostly wait (camera, disk, a discovery child process): more threads than cores
_alive: set[_Relay] = set()  # relays waiting for their task; kept referenced until the outcome arrives
_pool: QThreadPool | None = None
_dispatcher: _Dispatcher | None = None


def _thread_pool() -> QThreadPool:
    """A pool of our own: the global one has as many threads as cores, and a 30 s camera search would hold one."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(MAX_THREADS)
    return _pool


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from the pool thread are queued to it."""

    succeeded = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], object], relay: _Relay) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            try:
                result = self.fn()
            except BaseException as exc:  # noqa: BLE001 - a worker never lets an exception escape
                self.relay.failed.emit(exc)
            else:
                self.relay.succeeded.emit(result)
        except RuntimeError:  # the relay was deleted: the window closed while this task ran; nobody waits
            log.debug("background task finished after its window closed")


class _Dispatcher(QObject):
    """Lives on the GUI thread; a run_task call made on another thread is queued to it."""

    requested = Signal(object, object, object)

    def __init__(self) -> None:
        super().__init__()
        self.requested.connect(self._run)

    @Slot(object, object, object)
    def _run(self, fn, on_done, on_failed) -> None:
        run_task(fn, on_done, on_failed)


def _gui_dispatcher(app: QCoreApplication) -> _Dispatcher:
    global _dispatcher
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
        _dispatcher.moveToThread(app.thread())  # made on whichever thread asked first; it serves the GUI thread
    return _dispatcher


def run_task(
    fn: Callable[[], object],
    on_done: Callable[[object], None] | None = None,
    on_failed: Callable[[BaseException], None] | None = None,
) -> None:
    """Run ``fn()`` on a pool thread; report its result or exception on the GUI thread (callable from any thread)."""
    app = QCoreApplication.instance()
    if app is not None and QThread.currentThread() is not app.thread():
        _gui_dispatcher(app).requested.emit(fn, on_done, on_failed)
        return
    relay = _Relay()
    _alive.add(relay)

    def finish(callback: Callable | None, value: object) -> None:
        _alive.discard(relay)
        relay.deleteLater()
        if callback is not None:
            callback(value)
        elif isinstance(value, BaseException):  # nobody asked for the outcome: at least log it
            log.error("background task failed: %s: %s", type(value).__name__, value)

    relay.succeeded.connect(lambda value: finish(on_done, value))
    relay.failed.connect(lambda exc: finish(on_failed, exc))
    _thread_pool().start(_Task(fn, relay))


def pending_tasks() -> int:
    """Tasks whose outcome has not been delivered yet (tests wait for 0)."""
    return len(_alive)


def wait_for_tasks(timeout_s: float) -> bool:
    """Wait (at exit only: it blocks) until every task on the pool has ended; True if they did in time."""
    return _pool is None or _pool.waitForDone(int(timeout_s * 1000))
