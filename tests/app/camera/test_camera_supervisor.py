"""The camera supervisor never dies: a real OSError in a restart or in its loop is reported, then retried.

The OSError is the real one: this process's file-descriptor limit is lowered (``RLIMIT_NOFILE``), so
creating the pipes of a new acquisition process or a shared-memory ring fails with EMFILE, as it does
when a long-running station runs out of descriptors. The simulated camera (viky.cti) is real.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import pytest
from camera_helpers import requires_simulator, wait_until

from app.sources.base import SourceState

pytestmark = [
    pytest.mark.camera,
    requires_simulator,
    pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX"),
]


@contextlib.contextmanager
def no_new_file_descriptors():
    """Every new file descriptor of this process fails with EMFILE until the block ends."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))  # 0, 1, 2 are taken: nothing new fits
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def first_frame(source) -> None:
    wait_until(lambda: source.wait_latest(0.2) is not None, timeout=15)


def test_restart_that_raises_oserror_is_retried(open_sim):
    source = open_sim("sim", restart_backoff_s=(0.2,))
    source.start()
    first_frame(source)
    pid = source.stats().extra["pid"]
    with no_new_file_descriptors():
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: "restart failed: OSError: [Errno 24]" in source.stats().last_error, timeout=15)
        assert source.stats().state == SourceState.RECONNECTING
    # descriptors are back: the supervisor, still running, restarts the process at its next try
    wait_until(lambda: source.stats().state == SourceState.LIVE, timeout=30)
    assert source.stats().extra["pid"] not in (None, pid)
    first_frame(source)


def test_oserror_in_the_supervisor_loop_is_reported_and_supervision_goes_on(open_sim):
    # frames do not fit the ring: the process asks for a bigger one, which cannot be made without descriptors
    source = open_sim("sim", ring_bytes=1000, restart_backoff_s=(0.2,))
    with no_new_file_descriptors():
        source.start()
        wait_until(lambda: source.stats().last_error.startswith("camera supervisor: OSError"), timeout=15)
    pid = source.stats().extra["pid"]
    os.kill(pid, signal.SIGKILL)  # still supervised: the process comes back and the ring grows this time
    wait_until(
        lambda: source.stats().extra["process_restarts"] == 1 and source.stats().state == SourceState.LIVE,
        timeout=30,
    )
    first_frame(source)
