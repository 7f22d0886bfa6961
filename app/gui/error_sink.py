"""The one app-level error sink: every worker's failure ends here, then in the status bar, the log and the log panel."""

from __future__ import annotations

import collections
import logging
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

log = logging.getLogger("draem_inspect")

REPEAT_S = 10.0  # the same message from the same place is shown at most this often


@dataclass(frozen=True)
class Notice:
    """One reported problem."""

    time: float  # wall-clock time
    where: str  # which part reported it ("camera", "model", "trace", "NG images" ...)
    message: str  # one line for the operator


class ErrorSink(QObject):
    """Callable from any thread as ``sink(where, exc_or_text)``; emits :attr:`reported` on the GUI thread.

    The signal is emitted from the caller's thread; Qt queues it to receivers living on the GUI thread.
    """

    reported = Signal(object)  # Notice

    def __init__(self, parent: QObject | None = None, history: int = 200) -> None:
        super().__init__(parent)
        self.notices: collections.deque[Notice] = collections.deque(maxlen=history)
        self._last: dict[tuple[str, str], float] = {}

    def __call__(self, where: str, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else _one_line(error)
        key = (where, message)
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < REPEAT_S:
            return
        self._last[key] = now
        notice = Notice(time.time(), where, message)
        self.notices.append(notice)
        log.error("%s: %s", where, message)
        self.reported.emit(notice)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    from draem_core.errors import DraemError

    if isinstance(exc, DraemError):  # our errors already name the thing and the reason
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
