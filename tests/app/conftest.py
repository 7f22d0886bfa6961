"""Fixtures for the application tests."""

from __future__ import annotations

import logging
import sys
import threading

import pytest


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
