"""The application's handle on one acquisition process: spawn it, call commands with timeouts, read events."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import threading
import time
from multiprocessing.connection import wait

from app.camera.acquisition_process import AcquisitionConfig, acquisition_main
from app.camera.errors import CameraError, FeatureError


class AcquisitionClient:
    """Spawns :func:`acquisition_main` in a new process and talks to it.

    ``call`` may be used from several threads (one at a time goes through the pipe); replies that arrive
    after their caller gave up are discarded.

    Args:
        config: What the process should open and how it behaves.
        device: Name used in error messages (the serial number or the source spec).
    """

    def __init__(self, config: AcquisitionConfig, device: str) -> None:
        self.device = device
        ctx = mp.get_context("spawn")
        self._commands, child_commands = ctx.Pipe(duplex=True)
        self._events, child_events = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=acquisition_main,
            args=(config, child_commands, child_events),
            name=f"acquisition-{device}",
            daemon=True,
        )
        self._process.start()
        child_commands.close()
        child_events.close()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """Process id of the acquisition process."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """The process is running."""
        return self._process.is_alive()

    @property
    def exitcode(self) -> int | None:
        """Exit code once ended (negative: killed by that signal)."""
        return self._process.exitcode

    def call(self, name: str, timeout_s: float, /, **kwargs):
        """Run command ``name`` in the acquisition process and return its result.

        Raises:
            CameraError: the process failed the command (``FeatureError`` for feature problems),
                did not answer within ``timeout_s``, or is not running.
        """
        deadline = time.monotonic() + timeout_s
        if not self._lock.acquire(timeout=timeout_s):
            raise CameraError(
                self.device, f"acquisition process busy: {name!r} not sent within {timeout_s:g} s"
            )
        try:
            req_id = next(self._ids)
            try:
                self._commands.send((req_id, name, kwargs))
                return self._reply(req_id, name, deadline, timeout_s)
            except (BrokenPipeError, EOFError, ConnectionResetError, OSError) as exc:
                raise CameraError(
                    self.device, f"acquisition process is not running ({name!r} failed)"
                ) from exc
        finally:
            self._lock.release()

    def _reply(self, req_id: int, name: str, deadline: float, timeout_s: float):
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._commands.poll(remaining):
                raise CameraError(self.device, f"no answer to {name!r} within {timeout_s:g} s")
            got_id, ok, result = self._commands.recv()
            if got_id != req_id:
                continue  # a late answer to a call that already timed out
            if ok:
                return result
            if result.get("feature"):
                raise FeatureError(self.device, result["feature"], result["detail"] or result["reason"])
            raise CameraError(self.device, result["reason"])

    def events(self, timeout_s: float) -> list[tuple[str, object]]:
        """Events the process sent, waiting up to ``timeout_s`` for the first (returns early if it dies)."""
        ready = wait([self._events, self._process.sentinel], timeout_s)
        out = []
        if self._events in ready:
            try:
                while self._events.poll(0):
                    out.append(self._events.recv())
            except (EOFError, OSError):
                pass
        return out

    def kill(self) -> None:
        """End the process now."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5)

    def shutdown(self, timeout_s: float) -> None:
        """Ask the process to close the device and exit; kill it if it does not within ``timeout_s``."""
        if self._process.is_alive():
            try:
                self.call("close", timeout_s)
            except CameraError:
                pass
            self._process.join(timeout_s)
        self.kill()
        for conn in (self._commands, self._events):
            conn.close()
