"""The acquisition process: owns the camera, fetches frames into the shared-memory ring, serves commands.

Started with the ``spawn`` context by :class:`app.camera.process_client.AcquisitionClient`. It talks over two
pipes: ``commands`` (request ``(id, name, kwargs)`` -> reply ``(id, ok, result)``) and ``events`` (one-way
``(kind, payload)`` notices: state changes, errors, a request for a bigger ring). Frames never go through
a pipe. The loop never waits longer than one fetch timeout, so commands are answered promptly, and it
publishes a heartbeat in the ring header on every turn.

A lost device is detected from fetch errors and from periodic probes; the worker then releases it and
retries with back-off, re-applying every feature the application set, until the device is back.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

from app.camera.controls import CameraControls, Roi
from app.camera.device_session import DeviceLost, DeviceSession, SessionConfig
from app.camera.errors import CameraError
from app.camera.features import get_value, read_feature_tree, set_value
from app.camera.settings_file import CameraSettings, apply_settings
from app.camera.shm_ring import ShmRing

# CameraControls methods the application may call remotely; setters are replayed after a reconnect.
CONTROL_GETTERS = (
    "has",
    "exposure_us",
    "gain",
    "frame_rate",
    "trigger_enabled",
    "pixel_format",
    "pixel_formats",
    "roi",
    "user_sets",
)
CONTROL_SETTERS = (
    "set_exposure_us",
    "set_exposure_auto",
    "set_gain",
    "set_gain_auto",
    "set_frame_rate",
    "set_trigger",
    "set_pixel_format",
    "set_roi",
    "load_user_set",
)
CONTROL_ACTIONS = ("software_trigger", "save_user_set", "set_startup_user_set", "set_output")


@dataclass(frozen=True)
class AcquisitionConfig:
    """Behaviour of the acquisition process."""

    session: SessionConfig = field(
        default_factory=lambda: SessionConfig(producers=())
    )  # producers and device
    fetch_timeout_s: float = 0.1  # longest single wait for a frame; commands are served in between
    idle_wait_s: float = 0.05  # command wait when not streaming (also the heartbeat period then)
    probe_after_s: float = (
        1.0  # without frames for this long, force a register read to see if the device is there
    )
    backoff_s: tuple[float, ...] = field(
        default=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    )  # reconnect waits; the last repeats
    fps_window_s: float = 1.0  # arrival-rate window
    recycle_after_reopens: int = (
        50  # exit for a fresh process after this many device re-opens (~0.4 MB leak each)
    )


def acquisition_main(config: AcquisitionConfig, commands, events) -> None:
    """Entry point of the acquisition process."""
    AcquisitionWorker(config, events).run(commands)


class AcquisitionWorker:
    """Command dispatch and the fetch loop. One per acquisition process."""

    def __init__(self, config: AcquisitionConfig, events) -> None:
        self.config = config
        self.events = events
        self.session = DeviceSession(config.session)
        self.ring: ShmRing | None = None
        self.ring_requested = 0  # largest slot size asked of the application so far
        self.streaming = False  # the application asked for frames
        self.lost_since = 0.0  # >0 while the device is lost
        self.attempt = 0
        self.reopens = 0  # device re-opens after losses, in this process
        self.next_attempt = 0.0
        self.last_contact = time.monotonic()
        self.replay: dict[tuple, tuple] = {}  # what the application set, re-applied after a reconnect
        self.received = self.lost = 0
        self.last_frame_id = -1
        self.arrivals: collections.deque[float] = collections.deque()
        self.pulse_end: tuple[float, str, str] | None = None
        self.reported: set[str] = set()
        self.running = True

    # --- main loop ---------------------------------------------------------------------------------

    def run(self, commands) -> None:
        try:
            while self.running:
                wait = (
                    0.0 if self.streaming and not self.lost_since else self._budget(self.config.idle_wait_s)
                )
                while self.running and commands.poll(wait):
                    self._serve(commands)
                    wait = 0.0
                if self.running:
                    self._step()
                    self._publish()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            pass  # the application went away
        finally:
            self.session.close()
            if self.ring is not None:
                self.ring.close()

    def _step(self) -> None:
        now = time.monotonic()
        if self.pulse_end and now >= self.pulse_end[0]:
            _, line, output = self.pulse_end
            self.pulse_end = None
            self._quietly(lambda: self._controls().set_output(line, False, output))
        if self.lost_since:
            if now >= self.next_attempt:
                self._try_reconnect()
            return
        if not self.session.is_open:
            return
        try:
            if self.streaming:
                self._fetch_one()
            if time.monotonic() - self.last_contact > self.config.probe_after_s:
                self.session.probe()
                self.last_contact = time.monotonic()
        except DeviceLost as exc:
            self._device_lost(str(exc))

    def _fetch_one(self) -> None:
        try:
            frame = self.session.fetch(self._budget(self.config.fetch_timeout_s))
        except CameraError as exc:  # undecodable pixel format: report once, count, keep going
            self.received += 1
            self.lost += 1
            self._report(exc.reason)
            return
        if frame is None:
            return
        self.received += 1
        self.last_contact = frame.timestamp
        if self.last_frame_id >= 0 and frame.frame_id > self.last_frame_id + 1:
            self.lost += frame.frame_id - self.last_frame_id - 1
        self.last_frame_id = frame.frame_id
        self.arrivals.append(frame.timestamp)
        if self.ring is None or not self.ring.write(
            frame.image, frame.frame_id, frame.timestamp, frame.device_timestamp
        ):
            self.lost += 1
            if self.ring is not None and frame.image.nbytes > self.ring_requested:
                self.ring_requested = frame.image.nbytes  # ask once per size; the application grows the ring
                self._emit("need_ring", frame.image.nbytes)

    def _publish(self) -> None:
        if self.ring is None:
            return
        now = time.monotonic()
        while self.arrivals and now - self.arrivals[0] > self.config.fps_window_s:
            self.arrivals.popleft()
        fps = 0.0
        if len(self.arrivals) >= 2 and self.streaming:
            fps = (len(self.arrivals) - 1) / max(self.arrivals[-1] - self.arrivals[0], 1e-6)
        self.ring.publish_counters(self.received, self.session.incomplete, self.lost, fps, now)

    # --- loss and reconnection ---------------------------------------------------------------------

    def _device_lost(self, reason: str) -> None:
        self.lost_since = time.monotonic()
        self.attempt = 0
        self.next_attempt = self.lost_since + self.config.backoff_s[0]
        self.session.release()
        self._emit("state", "reconnecting")
        self._emit("error", f"device lost: {reason}")

    def _try_reconnect(self) -> None:
        try:
            self.session.reconnect()
            self._replay()
            if self.streaming:
                self.session.start()
        except (CameraError, DeviceLost) as exc:
            self.session.release()
            self.attempt += 1
            delay = self.config.backoff_s[min(self.attempt, len(self.config.backoff_s) - 1)]
            self.next_attempt = time.monotonic() + delay
            self._emit("error", f"reconnect attempt {self.attempt} failed: {getattr(exc, 'reason', exc)}")
            return
        self.lost_since = 0.0
        self.last_contact = time.monotonic()
        self.last_frame_id = -1
        self.reopens += 1
        self._emit("reconnected", self.attempt + 1)
        self._emit("state", "live" if self.streaming else "open")
        if self.reopens >= self.config.recycle_after_reopens:
            # harvesters leaks a little per ImageAcquirer; a fresh process returns it (the application restarts us)
            self._emit("recycle", self.reopens)
            self.running = False

    def _replay(self) -> None:
        for kind, name, payload in self.replay.values():
            if kind == "set":
                self._quietly(
                    lambda n=name, v=payload: set_value(self.session.node_map, n, v, self.session.serial)
                )
            else:
                self._quietly(lambda n=name, a=payload: self._call_control(n, a))

    def _remember(self, key: tuple, entry: tuple) -> None:
        self.replay.pop(key, None)  # re-insert at the end: replay in the order things were last set
        self.replay[key] = entry

    # --- commands ----------------------------------------------------------------------------------

    def _serve(self, commands) -> None:
        req_id, name, kwargs = commands.recv()
        handler = getattr(self, f"cmd_{name}", None)
        try:
            if handler is None:
                raise CameraError(self.session.serial, f"unknown command {name!r}")
            reply = (req_id, True, handler(**kwargs))
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller as data
            reply = (req_id, False, _error_payload(exc))
        commands.send(reply)

    def cmd_open(self) -> dict:
        info = self.session.open()
        self.last_contact = time.monotonic()
        self._emit("state", "open")
        return info

    def cmd_attach_ring(self, name: str) -> None:
        old, self.ring = self.ring, ShmRing.attach(name)
        self.ring_requested = self.ring.capacity
        if old is not None:
            old.close()

    def cmd_start(self) -> None:
        if self.lost_since:
            self.streaming = True  # starts when the device is back
            return
        if not self.streaming:
            self.last_frame_id = -1
            self.session.start()
            self.streaming = True
        self._emit("state", "live")

    def cmd_stop(self) -> None:
        self.streaming = False
        self.arrivals.clear()
        if not self.lost_since:
            self.session.stop()
            self._emit("state", "open")

    def cmd_release(self) -> None:
        """Stop and free the device but keep the process (and its one Harvester) for a later ``open``."""
        self.streaming = False
        self.session.release()
        self._emit("state", "closed")

    def cmd_close(self) -> None:
        self.streaming = False
        self.session.close()
        self.running = False

    def cmd_ping(self) -> float:
        return time.monotonic()

    def cmd_get(self, name: str):
        return get_value(self.session.node_map, name, self.session.serial)

    def cmd_set(self, name: str, value):
        result = set_value(self.session.node_map, name, value, self.session.serial)
        if result is not None:  # commands (result None) are never replayed
            self._remember(("set", name), ("set", name, value))
        return result

    def cmd_tree(self):
        return read_feature_tree(self.session.node_map)

    def cmd_control(self, op: str, args: tuple = ()):
        if op not in CONTROL_GETTERS + CONTROL_SETTERS + CONTROL_ACTIONS:
            raise CameraError(self.session.serial, f"unknown camera control {op!r}")
        result = self._call_control(op, args)
        if op in CONTROL_SETTERS:
            self._remember(("control", op), ("control", op, args))
        return result

    def cmd_apply_settings(self, features: tuple) -> list:
        failures = apply_settings(self.session.node_map, CameraSettings(tuple(features)), self.session.serial)
        failed = {name for name, _ in failures}
        for name, value in features:
            if name not in failed:
                self._remember(("set", name), ("set", name, value))
        return failures

    def cmd_pulse(self, line: str, duration_s: float, user_output: str = "UserOutput1") -> None:
        self._controls().set_output(line, True, user_output)
        self.pulse_end = (time.monotonic() + duration_s, line, user_output)

    def cmd_simulate_unplug(self, seconds: float) -> None:
        """Test hook: behave as if the cable were pulled for ``seconds`` (real reconnect path afterwards)."""
        self.session.hidden_until = time.monotonic() + seconds

    # --- helpers -----------------------------------------------------------------------------------

    def _budget(self, wait_s: float) -> float:
        """A wait shortened so that a pending output pulse ends on time."""
        if self.pulse_end is None:
            return wait_s
        return max(0.0, min(wait_s, self.pulse_end[0] - time.monotonic()))

    def _controls(self) -> CameraControls:
        return CameraControls(self.session.node_map, self.session.serial)

    def _call_control(self, op: str, args: tuple):
        args = tuple(Roi(**a) if isinstance(a, dict) and op == "set_roi" else a for a in args)
        return getattr(self._controls(), op)(*args)

    def _emit(self, kind: str, payload) -> None:
        self.events.send((kind, payload))

    def _report(self, message: str) -> None:
        if message not in self.reported:
            self.reported.add(message)
            self._emit("error", message)

    def _quietly(self, action) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - best effort (replay, pulse end); reported, never fatal
            self._emit("error", f"{type(exc).__name__}: {exc}")


def _error_payload(exc: Exception) -> dict:
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "reason": getattr(exc, "reason", str(exc)),
        "feature": getattr(exc, "feature", None),
        "detail": getattr(exc, "detail", None),
    }
