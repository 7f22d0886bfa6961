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
        self._repeats: collections.Counter[tuple[str, str]] = collections.Counter()  # not shown since last time

    def __call__(self, where: str, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else _one_line(error)
        key = (where, message)
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < REPEAT_S:
            self._repeats[key] += 1
            return
        self._last[key] = now
        notice = Notice(time.time(), where, message)
        self.notices.append(notice)
        log_notice(where, message, error, self._repeats.pop(key, 0))
        self.reported.emit(notice)


def log_notice(where: str, message: str, error: BaseException | str, repeats: int) -> None:
    """Log what the operator is shown with its context: where, the thread (in the log format), how often it
    repeated unseen, and for an exception its type, its cause and the traceback."""
    context = f" (repeated {repeats}x in the last {REPEAT_S:g} s)" if repeats else ""
    if isinstance(error, BaseException):
        cause = error.__cause__ or error.__context__
        context += f" [{type(error).__module__}.{type(error).__qualname__}" + (
            f", caused by {type(cause).__name__}: {cause}]" if cause else "]")  # fmt: skip
        exc_info = (type(error), error, error.__traceback__) if error.__traceback__ else None
    else:
        exc_info = None
    log.error("shown to the operator: %s: %s%s", where, message, context, exc_info=exc_info)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    from draem_core.errors import DraemError

    if isinstance(exc, DraemError):  # our errors already name the thing and the reason
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
