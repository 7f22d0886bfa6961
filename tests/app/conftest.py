"""Fixtures for the application tests."""

from __future__ import annotations

import gc
import logging
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from draem_core.imageio import write_image_atomic


@pytest.fixture()
def restore_logging():
    """Undo what app.logs.setup_logging changes process-wide: root handlers and level, exception hooks."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)


@pytest.fixture()
def images(tmp_path: Path) -> Path:
    """Four random 160x96 frames in a folder (a folder source loops over them)."""
    folder = tmp_path / "frames"
    rng = np.random.default_rng(3)
    for i in range(4):
        write_image_atomic(folder / f"{i:02d}.png", rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    return folder


@pytest.fixture(autouse=True)
def _qt_garbage_collected_on_the_main_thread(request: pytest.FixtureRequest):
    """A test's windows and wizards end in reference cycles. Collect them here, on the GUI thread, after pytest-qt
    closed them: left to Python's cyclic collector they are freed by whichever thread allocates next, and a pool
    thread deleting Qt objects while the GUI thread deletes others deadlocks on Qt's and Python's locks (seen
    once in a full run: the suite stopped, and the timeout could not fire, the GIL being held)."""
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()
