"""Helpers shared by the camera tests (imported by name: this folder is on sys.path under pytest)."""

from __future__ import annotations

import time

import pytest

from app.camera.discovery import simulator_path

requires_simulator = pytest.mark.skipif(
    simulator_path() is None, reason="genicam's viky.cti is not installed"
)


def wait_until(condition, timeout: float = 10.0, step: float = 0.02) -> None:
    """Poll ``condition`` until it holds; fail the test with a message if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)
