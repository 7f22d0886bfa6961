"""Closing the window while background tasks still run (a camera search, a model load) ends the process
cleanly: exit code 0, never Qt's abort."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def test_sigterm_right_after_start_up_exits_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "DRAEM_INSPECT_HOME": str(tmp_path / "data")}
    log = tmp_path / "data" / "logs" / "draem-inspect.log"
    proc = subprocess.Popen([sys.executable, "-m", "app", "gui", "--source", "demo"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and "started:" in log.read_text()):
            assert proc.poll() is None and time.monotonic() < deadline, "the window did not start"
            time.sleep(0.1)
        time.sleep(1.0)  # the window is up; its start-up tasks (model, source, camera search) are running
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "terminate called" not in err
