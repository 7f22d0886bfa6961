"""The application log: a rotating file in the data folder (and the console when there is one).

``setup_logging(data_dir, level, console=True)`` is called once by every long-running command (the window,
``run``). Each log file starts with a header naming the software version, Python, torch and the platform, and
every start of the program writes that header again, so any excerpt of a log says which build wrote it. A
frozen windowed app has no stderr: there the file is the only log. Uncaught exceptions (any thread) and Python
warnings are logged too.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import platform
import sys
import threading
from pathlib import Path

from draem_core.version import __version__

LOGGER = "draem_inspect"  # the application's logger (``app.*`` modules log through their own names too)
LOG_DIR = "logs"  # folder under the data folder
LOG_FILE = "draem-inspect.log"  # current file; rotated copies are draem-inspect.log.1 ... .N
MAX_BYTES = 5 * 1024 * 1024  # one file's size before it rotates
BACKUPS = 5  # rotated files kept (at most 30 MB of logs in all)
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")  # choices of --log-level
FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"
FILE_ONLY = {"file_only": True}  # ``extra=`` of a record the console already shows in another form


def header() -> str:
    """One line naming the build: software version, Python, torch, platform, frozen or not, process id."""
    torch_version = sys.modules["torch"].__version__ if "torch" in sys.modules else "not loaded"
    frozen = " frozen" if getattr(sys, "frozen", False) else ""
    return (f"draem-inspect {__version__}{frozen} | Python {platform.python_version()} | torch {torch_version} | "
            f"{platform.platform()} | pid {os.getpid()}")  # fmt: skip


class HeaderedFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file whose every file starts with :func:`header`."""

    def _open(self):  # noqa: ANN202 - logging's own signature
        stream = super()._open()
        if stream.tell() == 0:
            stream.write(f"# {header()}\n")
        return stream


def console_handler() -> logging.Handler:
    """A stderr handler in the log format that leaves out :data:`FILE_ONLY` records."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(lambda record: not getattr(record, "file_only", False))
    return handler


def log_dir(data_dir: Path) -> Path:
    """Where the log files of a data folder are."""
    return Path(data_dir) / LOG_DIR


def setup_logging(data_dir: Path, level: str = "INFO", console: bool = True) -> Path:
    """Log to ``<data_dir>/logs/draem-inspect.log`` (rotating) and, when ``console``, to stderr.

    Calling it again replaces the handlers it added before (another data folder or level), never doubles them.

    Args:
        data_dir: The data folder; ``logs/`` is created in it.
        level: One of :data:`LEVELS` (any case).
        console: Also write to stderr (skipped when there is none, as in a frozen windowed app).

    Returns:
        The log file.
    """
    name = level.upper()
    if name not in LEVELS:
        msg = f"log level {level!r}: not one of {', '.join(LEVELS)}"
        raise ValueError(msg)
    folder = log_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_draem_inspect", False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [HeaderedFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                           encoding="utf-8")]  # fmt: skip
    if console and sys.stderr is not None:
        handlers.append(console_handler())
    for handler in handlers:
        handler._draem_inspect = True  # type: ignore[attr-defined]  (ours: replaced on the next call)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(name)
    logging.captureWarnings(True)
    _log_uncaught()
    logging.getLogger(LOGGER).info("started: %s; log level %s; data folder %s", header(), name, data_dir)
    return path


def _log_uncaught() -> None:
    """Uncaught exceptions of the main thread and of other threads end in the log, then go on as before."""
    log = logging.getLogger(LOGGER)
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook
    if getattr(previous_hook, "_draem_inspect", False):
        return

    def hook(kind, value, tb) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            log.critical("uncaught exception", exc_info=(kind, value, tb))
        previous_hook(kind, value, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            name = args.thread.name if args.thread else "?"
            log.critical("uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value,
                                                                             args.exc_traceback))  # fmt: skip
        previous_thread_hook(args)

    hook._draem_inspect = True  # type: ignore[attr-defined]
    sys.excepthook = hook
    threading.excepthook = thread_hook
