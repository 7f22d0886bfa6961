"""Helpers of the plant tests: waiting, free ports and a real mosquitto broker process."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
TIMEOUT = 60.0


def wait_for(condition, timeout: float = TIMEOUT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    """A mosquitto process on a loopback port (stop/start to take it away and bring it back)."""

    port: int
    conf: Path
    proc: subprocess.Popen | None = None

    def start(self) -> Broker:
        assert Path(MOSQUITTO).is_file(), "mosquitto is not installed (apt-get install mosquitto; .ci/run does)"
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        wait_for(self._listening, 20.0, "mosquitto listening")
        return self

    def _listening(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "mosquitto ended at start"
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


def broker_conf(path: Path, port: int, extra: str = "", persistence: bool = False) -> Path:
    """A mosquitto configuration: one loopback listener, anonymous clients (``user root``: a broker started by root
    keeps its rights to read the test's files; ignored when not root)."""
    text = f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence {str(persistence).lower()}\n"
    path.write_text(text + extra)
    return path


