"""Help → Save diagnostics…: the zip of app/diagnostics.py, collected off the GUI thread.

The window keeps inspecting meanwhile; the zip holds the last self-test report of the data folder rather than
a fresh run (a self-test would take the CPU from the line). The settings are read on the GUI thread (a quick
read of the window's own store, secrets removed), everything else on a worker.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow

from app.diagnostics import DiagnosticsConfig, collect, read_settings
from app.gui.tasks import run_task

GUI_CONFIG = DiagnosticsConfig(self_test=False)  # what the window puts in the zip


def default_name() -> str:
    """``draem-inspect-diagnostics-20240501-0830.zip``"""
    return time.strftime("draem-inspect-diagnostics-%Y%m%d-%H%M.zip")


def save_diagnostics(window: QMainWindow, out: Path | None = None) -> None:
    """Ask where to save (unless ``out`` is given), then collect on a worker; the outcome goes to the status
    bar, a failure to the window's error sink (and so to the log)."""
    if out is None:
        name, _ = QFileDialog.getSaveFileName(window, "Save diagnostics", str(Path.home() / default_name()),
                                              "Zip files (*.zip)")  # fmt: skip
        if not name:
            return
        out = Path(name)
    settings = read_settings(window.settings.store)
    data_dir = Path(window.data_dir)
    window.status.flash(f"saving diagnostics to {out} …")

    def done(manifest: dict) -> None:
        missing = f"; not included: {', '.join(manifest['errors'])}" if manifest["errors"] else ""
        window.status.flash(f"diagnostics saved to {out}{missing}")

    run_task(lambda: collect(out, data_dir, settings, GUI_CONFIG), done,
             lambda exc: window.errors("diagnostics", exc))  # fmt: skip
