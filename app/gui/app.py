"""Starting the GUI: QApplication, organisation/application names, theme, torch threads, the window."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

import torch  # before any Qt import (WinError 1114 in frozen Windows builds otherwise)

from app.paths import APP_NAME, ORG_NAME


def reserve_gui_core() -> None:
    """Leave one CPU core to the GUI thread when the model runs on the CPU."""
    cores = os.cpu_count() or 1
    if cores > 1 and not torch.cuda.is_available():
        torch.set_num_threads(max(1, min(torch.get_num_threads(), cores - 1)))


def check_display() -> None:
    """On Linux without a display Qt aborts the process; say so in one line instead.

    Raises:
        DraemError: no X11/Wayland display and no QT_QPA_PLATFORM chosen.
    """
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    ):
        from draem_core.errors import DraemError

        msg = "no display: run it in a desktop session, or set DISPLAY (e.g. with Xvfb) or QT_QPA_PLATFORM=offscreen"
        raise DraemError(msg)


def run_gui(args: argparse.Namespace) -> int:
    """Open the inspection window and run the event loop until it closes; returns the exit code."""
    from app.cli.global_options import log_level
    from app.gui.platform_check import check_platform_libraries
    from app.logs import setup_logging
    from app.paths import data_home

    setup_logging(data_home(), log_level(args), console=True)
    early_quit = remember_early_quit()  # SIGTERM/SIGINT while Qt and the window load: honoured once it exists
    check_display()
    check_platform_libraries()  # before Qt loads its platform plugin: names missing system libraries
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow
    from app.gui.startup import LaunchOptions
    from app.gui.theme import apply_theme

    reserve_gui_core()
    QCoreApplication.setOrganizationName(ORG_NAME)
    QCoreApplication.setApplicationName(APP_NAME)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    sources = getattr(args, "source", None) or []
    sources = [sources] if isinstance(sources, str) else sources
    options = LaunchOptions(
        source=sources[0] if sources else None,
        sources=tuple(sources),
        model=getattr(args, "model", None),
        operator=True if getattr(args, "operator", False) else None,
        fullscreen=bool(getattr(args, "fullscreen", False)),
    )
    window = MainWindow(options)
    if not options.fullscreen:
        window.show()
    close_on_terminate(window)
    if early_quit.is_set():
        QTimer.singleShot(0, window.close)
    code = app.exec()
    return finish_background_tasks(code)


def finish_background_tasks(code: int, timeout_s: float = 5.0) -> int:
    """After the window closed (station shut down, trace flushed): let background tasks end, bounded.

    A task still running when Qt tears its thread pool down aborts the process ("terminate called without an
    active exception", e.g. closing during start-up while a camera search runs); past ``timeout_s`` the process
    ends at once with ``code`` instead, everything that matters being saved already.
    """
    from app.gui.tasks import wait_for_tasks

    if wait_for_tasks(timeout_s):
        return code
    logging.getLogger("draem_inspect").warning("background tasks still running at exit; ending the process")
    logging.shutdown()
    os._exit(code)


def remember_early_quit() -> threading.Event:
    """Until the window exists, SIGTERM/SIGINT only set the returned event (the window then closes at once)."""
    import signal

    requested = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_args: requested.set())
    return requested


def close_on_terminate(window) -> None:
    """SIGTERM/SIGINT (a service manager, Ctrl+C in the terminal) close the window the normal way:
    sources stopped, trace flushed, settings saved, exit code 0."""
    import signal

    from PySide6.QtCore import QTimer

    def request_close(*_args) -> None:
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, request_close)
    # Python runs signal handlers only between bytecodes; a light timer gives it the chance while Qt waits.
    window._signal_pump = QTimer(window)  # kept on the window so it lives as long as the event loop
    window._signal_pump.timeout.connect(lambda: None)
    window._signal_pump.start(250)
