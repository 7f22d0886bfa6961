"""Guards the Qt binding itself: PySide6 6.12.0 on Python < 3.12 loses a reference to None on every void call,
and a window that runs for a shift aborts with 'none_dealloc' (pyproject.toml excludes it)."""

import sys

import pytest


@pytest.mark.gui
def test_void_qt_calls_keep_none_alive(qapp):
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        label.setEnabled(True)
    assert sys.getrefcount(None) - before > -100
