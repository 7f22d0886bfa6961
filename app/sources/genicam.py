"""A GenICam camera as a :class:`~app.sources.base.FrameSource`, acquired in its own process.

The application side holds the shared-memory ring (it creates and removes it), a supervisor thread that
reads the acquisition process's events, restarts the process when it dies or hangs (stale heartbeat), and
re-applies everything the application set, and a reader thread that copies frames out of the ring into the
source's :class:`~app.sources.slot.FrameSlot`: the newest one in free run, every one in order when the
camera is triggered. ``latest()`` never waits on the camera, the process or a pipe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from app.camera.acquisition_process import AcquisitionConfig
from app.camera.device_session import SessionConfig
from app.camera.errors import CameraError
from app.camera.features import FeatureTree
from app.camera.process_client import AcquisitionClient
from app.camera.settings_file import capture, load_settings, save_settings
from app.camera.shm_ring import RingCounters, RingFrame, ShmRing
from app.sources.base import Frame, SourceState, SourceStats, Trigger
from app.sources.slot import FrameSlot
from draem_core.verdict import OVERRUN

_STABLE_AFTER_S = 10.0  # a process that ran this long resets the restart back-off
_READ_POLL_S = 0.002  # the reader looks at the ring this often while no new frame is there
_MAX_LOST_REPORTED = 1000  # a larger block-id jump is a camera restart, not lost parts
_STATES = {"open": SourceState.OPEN, "live": SourceState.LIVE, "reconnecting": SourceState.RECONNECTING}


@dataclass(frozen=True)
class GenICamSourceConfig:
    """Which camera and how the application supervises its acquisition process."""

    serial: str | None = None  # serial number to open; None opens the first device of the producers
    producers: tuple[str, ...] = ()  # .cti files to load; empty: every producer discovery finds
    ring_slots: int = 3  # frames held in shared memory (latest-frame semantics)
    ring_bytes: int | None = None  # bytes per ring slot; None: the camera's largest frame (grows if needed)
    command_timeout_s: float = 5.0  # longest wait for an answer to a command
    open_timeout_s: float = 30.0  # longest wait for the device to open (GigE enumeration can be slow)
    watchdog_s: float = 15.0  # heartbeat older than this = hung acquisition process: kill and restart
    restart_backoff_s: tuple[float, ...] = field(default=(0.2, 1.0, 2.0, 5.0, 10.0))  # waits between restarts
    acquisition: AcquisitionConfig | None = None  # loop timings; None: defaults (session filled in here)


class GenICamSource:
    """GenTL camera behind the FrameSource protocol.

    Args:
        config: Camera and supervision settings.
        name: Display name; defaults to ``camera <serial>``.
    """

    def __init__(self, config: GenICamSourceConfig | None = None, *, name: str | None = None) -> None:
        self.config = config or GenICamSourceConfig()
        self.name = name or f"camera {self.config.serial or '(first)'}"
        self.info: dict = {}  # vendor, model, serial ... once open
        self.slot = FrameSlot()
        self._client: AcquisitionClient | None = None
        self._ring: ShmRing | None = None
        self._lock = threading.RLock()  # state fields below
        self._state = SourceState.CLOSED
        self._want_live = False
        self._last_error = ""
        self._restarts = self._device_reconnects = self._skipped = 0
        self._base = RingCounters(0, 0, 0, 0, 0.0, 0.0)  # counters of previous acquisition processes
        self._replay: dict[tuple, tuple] = {}  # settings to re-apply in a restarted process
        self._last_seq = 0  # ring sequence number of the last frame returned
        self._last_frame_id = 0  # last frame id returned; ids never go back
        self._last_block = 0  # last camera block id read in triggered mode (0: none yet)
        self._id_offset = 0  # added to camera block ids, which restart after a reconnect
        self._read_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._supervisor: threading.Thread | None = None
        self._closing = threading.Event()
        self._spawned_at = 0.0  # when the current acquisition process was started
        self._death_reason = ""  # why we expect the current process to end (watchdog, recycling)

    # --- FrameSource -------------------------------------------------------------------------------

    def open(self) -> None:
        """Start the acquisition process and open the device (blocks up to ``open_timeout_s``)."""
        if self._client is not None:
            return
        self._closing.clear()
        self._spawn_and_open()
        with self._lock:
            self._state = SourceState.OPEN
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"{self.name} supervisor", daemon=True
        )
        self._supervisor.start()
        self._reader = threading.Thread(target=self._read_loop, name=f"{self.name} reader", daemon=True)
        self._reader.start()

    def start(self) -> None:
        """Start streaming (frames left from before a stop are not returned)."""
        self._want_live = True
        if self._client is None and self._state == SourceState.RECONNECTING:
            return  # the restarted process will start
        with self._read_lock:
            if self._ring is not None:
                self._last_seq = max(self._last_seq, self._ring.counters().latest)
            self.slot.clear()
        self._call("start")
        with self._lock:
            if self._state == SourceState.OPEN:
                self._state = SourceState.LIVE

    def stop(self) -> None:
        """Stop streaming (the device stays open)."""
        self._want_live = False
        if self._client is None and self._state == SourceState.RECONNECTING:
            return
        self._call("stop")
        with self._lock:
            if self._state == SourceState.LIVE:
                self._state = SourceState.OPEN
        self.slot.close()

    def close(self) -> None:
        """Close the device, end the process and free the shared memory (blocks up to a few seconds)."""
        self._closing.set()
        self.slot.close()
        if self._reader is not None:
            self._reader.join(2.0)
            self._reader = None
        if self._supervisor is not None:
            self._supervisor.join(self.config.open_timeout_s + 5)
            self._supervisor = None
        client, self._client = self._client, None
        if client is not None:
            client.shutdown(self.config.command_timeout_s)
        self._fold_counters()
        with self._read_lock:
            ring, self._ring = self._ring, None
        if ring is not None:
            ring.close()
        with self._lock:
            self._state = SourceState.CLOSED
            self._want_live = False

    def latest(self) -> Frame | None:
        """The newest frame not returned before, or None (never blocks on the camera)."""
        return self.slot.take()

    def wait_latest(self, timeout: float) -> Frame | None:
        """Wait up to ``timeout`` seconds for a new frame (not on the GUI thread)."""
        return self.slot.wait(timeout)

    @property
    def camera_id(self) -> str:
        """The serial number once open (records name the camera by it), else the configured one or the name."""
        return str(self.info.get("serial") or self.config.serial or self.name)

    def has_trigger(self) -> bool:
        """The camera has trigger nodes (``TriggerMode`` and ``TriggerSoftware``): it can be triggered itself."""
        return bool(self.control("has", "TriggerMode")) and bool(self.control("has", "TriggerSoftware"))

    # --- the reader thread: ring -> slot -----------------------------------------------------------

    def _read_loop(self) -> None:
        while not self._closing.is_set():
            try:
                frames = self._read_new()
            except Exception as exc:  # noqa: BLE001 - the reader never dies; the ring may be replaced meanwhile
                self._note_error(f"reading a frame failed: {type(exc).__name__}: {exc}")
                frames = []
            for frame in frames:
                self.slot.put(frame)
            if not frames:
                self._closing.wait(_READ_POLL_S)

    def _read_new(self) -> list[Frame]:
        """Frames written since the last read: the newest only in free run, all of them in order when triggered."""
        with self._read_lock:
            ring = self._ring
            if ring is None or not self._want_live:
                return []
            if not self.slot.triggered:
                got = ring.read_latest(self._last_seq)
                return [self._to_frame(got)] if got is not None else []
            latest, frames = ring.counters().latest, []
            for seq in range(self._last_seq + 1, latest + 1):
                got = ring.read(seq)
                if got is None:  # overwritten before we got to it: a triggered part without its frame
                    self._skipped += 1
                    self._last_seq = seq
                    self.slot.miss(Trigger(0, "", time.monotonic()), f"{OVERRUN}: frame {seq} overwritten in the ring")
                    continue
                self._count_lost_blocks(got)
                frames.append(self._to_frame(got))
            return frames

    def _count_lost_blocks(self, got: RingFrame) -> None:
        """Triggered: camera block ids that never arrived are parts without a frame (NOT_JUDGED, not silence)."""
        last, self._last_block = self._last_block, got.frame_id
        gap = got.frame_id - last - 1 if last else 0
        if 0 < gap <= _MAX_LOST_REPORTED:
            reason = f"frame lost between camera and host (block ids {last + 1}-{got.frame_id - 1})"
            for _ in range(gap):
                self.slot.miss(Trigger(0, "", got.timestamp), reason)

    def _to_frame(self, got: RingFrame) -> Frame:
        """A ring frame as a Frame with an id that never goes back (called with the read lock held)."""
        if self._last_seq:
            self._skipped += max(0, got.seq - self._last_seq - 1)
        self._last_seq = got.seq
        if got.frame_id + self._id_offset <= self._last_frame_id:  # block ids restart after a reconnect
            self._id_offset = self._last_frame_id - got.frame_id + 1
        self._last_frame_id = got.frame_id + self._id_offset
        serial = self.info.get("serial", self.config.serial or "")
        return Frame(got.image, self._last_frame_id, got.timestamp, got.device_timestamp, source_id=serial)

    def stats(self) -> SourceStats:
        """Counters across process restarts, plus ``extra`` details."""
        ring = self._ring
        now = ring.counters() if ring is not None else RingCounters(0, 0, 0, 0, 0.0, 0.0)
        slot = self.slot.counters()
        with self._lock:
            b = self._base
            lost = b.lost + now.lost
            extra = {
                "process_restarts": self._restarts,
                "device_reconnects": self._device_reconnects,
                "skipped_by_reader": self._skipped,
                "lost_in_acquisition": lost,
                "heartbeat_age_s": round(time.monotonic() - now.heartbeat, 3) if now.heartbeat else None,
                "pid": self._client.pid if self._client else None,
            }
            return SourceStats(
                state=self._state,
                received=b.received + now.received,
                dropped=self._skipped + lost + slot.dropped,
                overruns=slot.overruns,
                incomplete=b.incomplete + now.incomplete,
                fps=now.fps if self._state == SourceState.LIVE else 0.0,
                reconnects=self._restarts + self._device_reconnects,
                last_error=self._last_error,
                extra=extra,
            )

    # --- features ----------------------------------------------------------------------------------

    def feature_tree(self) -> FeatureTree:
        """Every feature of the camera, read in the acquisition process."""
        return self._call("tree")

    def get_feature(self, name: str):
        """Current value of a feature."""
        return self._call("get", name=name)

    def set_feature(self, name: str, value):
        """Set a feature (value may be text); re-applied after reconnects and restarts. Returns the value read back."""
        result = self._call("set", name=name, value=value)
        if result is not None:  # None: a command was executed; commands are never replayed
            self._remember(("set", name), ("set", {"name": name, "value": value}))
        return result

    def control(self, op: str, *args):
        """Call a :class:`~app.camera.controls.CameraControls` method in the acquisition process.

        Example: ``source.control("set_frame_rate", 50.0)``, ``source.control("software_trigger")``.
        A :class:`~app.camera.controls.Roi` is passed as a dict: ``control("set_roi", vars(roi))``.
        """
        result = self._call("control", op=op, args=args)
        if op.startswith("set_") or op == "load_user_set":
            self._remember(("control", op), ("control", {"op": op, "args": args}))
        return result

    def software_trigger(self) -> None:
        """Fire ``TriggerSoftware`` (after ``control("set_trigger", True, "Software")``)."""
        self.control("software_trigger")

    def pulse_output(self, line: str, duration_s: float, user_output: str = "UserOutput1") -> None:
        """Raise a camera output line for ``duration_s`` (returns at once; the process lowers it)."""
        self._call("pulse", line=line, duration_s=duration_s, user_output=user_output)

    def save_settings(self, path: str | Path) -> Path:
        """Save the camera's writable, streamable features to a JSON file (atomic)."""
        device = {k: self.info.get(k, "") for k in ("vendor", "model", "serial")}
        return save_settings(path, capture(self.feature_tree(), device))

    def load_settings(self, path: str | Path) -> list[tuple[str, str]]:
        """Apply a settings file; returns ``(feature, reason)`` for features the camera refused."""
        settings = load_settings(path)
        failures = self._call("apply_settings", features=settings.features)
        failed = {name for name, _ in failures}
        for name, value in settings.features:
            if name not in failed:
                self._remember(("set", name), ("set", {"name": name, "value": value}))
        return failures

    def simulate_unplug(self, seconds: float) -> None:
        """Test hook: the acquisition process acts as if the cable were pulled for ``seconds``."""
        self._call("simulate_unplug", seconds=seconds)

    # --- process supervision -----------------------------------------------------------------------

    def _remember(self, key: tuple, entry: tuple) -> None:
        """Record a setting for replay into a restarted process, in the order settings were last made."""
        self._replay.pop(key, None)
        self._replay[key] = entry

    def _call(self, name: str, timeout_s: float | None = None, /, **kwargs):
        client = self._client
        if client is None:
            why = (
                "restarting its acquisition process"
                if self._state == SourceState.RECONNECTING
                else "not open"
            )
            raise CameraError(self.config.serial or self.name, f"{why} (cannot {name} now)")
        return client.call(name, timeout_s or self.config.command_timeout_s, **kwargs)

    def _acquisition_config(self) -> AcquisitionConfig:
        producers = self.config.producers
        if not producers:
            from app.camera.discovery import find_producers

            producers = tuple(p.path for p in find_producers()[0])
        session = SessionConfig(producers=producers, serial=self.info.get("serial") or self.config.serial)
        base = self.config.acquisition or AcquisitionConfig(session=session)
        return replace(base, session=replace(base.session, producers=producers, serial=session.serial))

    def _spawn_and_open(self) -> None:
        device = self.config.serial or "(first device)"
        client = AcquisitionClient(self._acquisition_config(), device)
        try:
            self.info = client.call("open", self.config.open_timeout_s)
            client.device = self.info.get("serial") or device
            self._ensure_ring(client, self.config.ring_bytes or int(self.info["max_frame_bytes"]))
        except BaseException:
            client.shutdown(1.0)
            raise
        self._client = client
        self._spawned_at = time.monotonic()

    def _ensure_ring(self, client: AcquisitionClient, nbytes: int) -> None:
        """Attach the process to the ring, replacing the ring by a larger one if frames do not fit."""
        ring = self._ring
        if ring is None or ring.capacity < nbytes:
            ring = ShmRing.create(self.config.ring_slots, nbytes)
        try:
            client.call("attach_ring", self.config.command_timeout_s, name=ring.name)
        except BaseException:
            if ring is not self._ring:
                ring.close()
            raise
        with self._read_lock:
            old, self._ring = self._ring, ring
            if old is not ring:
                self._last_seq = 0
        if old is not None and old is not ring:
            old.close()

    def _supervise(self) -> None:
        """Watch the acquisition process until :meth:`close`; never ends on an error (reports, backs off)."""
        attempt = 0
        while not self._closing.is_set():
            try:
                attempt = self._supervise_once(attempt)
            except Exception as exc:  # noqa: BLE001 - a dead supervisor would leave the source stuck for good
                self._note_error(f"camera supervisor: {_describe(exc)}; retrying")
                attempt += 1
                self._closing.wait(self._backoff(attempt))

    def _supervise_once(self, attempt: int) -> int:
        """One turn: restart a missing process, or read its events and check it; returns the back-off."""
        client = self._client
        if client is None:  # a restart is pending
            return self._restart(attempt)
        for kind, payload in client.events(0.25):
            self._on_event(client, kind, payload)
        if self._closing.is_set():
            return attempt
        if not client.alive:
            self._on_death(client)
        elif self._hung():
            self._death_reason = f"acquisition process hung (no heartbeat for {self.config.watchdog_s:g} s)"
            client.kill()
        elif time.monotonic() - self._spawned_at > _STABLE_AFTER_S:
            attempt = 0
        return attempt

    def _backoff(self, attempt: int) -> float:
        waits = self.config.restart_backoff_s
        return waits[min(attempt, len(waits) - 1)]

    def _hung(self) -> bool:
        ring = self._ring
        beat = ring.counters().heartbeat if ring is not None else 0.0
        return bool(beat) and time.monotonic() - beat > self.config.watchdog_s

    def _on_event(self, client: AcquisitionClient, kind: str, payload) -> None:
        if kind == "state" and payload in _STATES:
            with self._lock:
                self._state = _STATES[payload]
        elif kind == "error":
            self._note_error(str(payload))
        elif kind == "recycle":
            self._death_reason = f"recycling the acquisition process after {payload} device re-opens"
        elif kind == "reconnected":
            with self._lock:
                self._device_reconnects += 1
        elif kind == "need_ring" and (self._ring is None or self._ring.capacity < int(payload)):
            try:
                self._ensure_ring(client, int(payload))
            except CameraError as exc:
                self._note_error(str(exc))

    def _note_error(self, message: str) -> None:
        with self._lock:
            self._last_error = message

    def _on_death(self, dead: AcquisitionClient) -> None:
        self._fold_counters()
        with self._read_lock:  # frames the dead process left unread are stale now: skip them
            latest = self._ring.counters().latest if self._ring is not None else self._last_seq
            self._skipped += max(0, latest - self._last_seq)
            self._last_seq = latest
        with self._lock:
            self._state = SourceState.RECONNECTING
            self._restarts += 1
            why = self._death_reason or "acquisition process ended"
            self._last_error = f"{why} (exit code {dead.exitcode}); restarting"
            self._death_reason = ""
        self._client = None
        dead.shutdown(0.5)

    def _restart(self, attempt: int) -> int:
        """Start a new acquisition process after a back-off wait; returns the next back-off index."""
        if self._closing.wait(self._backoff(attempt)):
            return attempt
        try:
            self._spawn_and_open()
            self._replay_into(self._client)
            if self._want_live:
                self._client.call("start", self.config.command_timeout_s)
        except Exception as exc:  # noqa: BLE001 - OSError (no descriptors, no memory ...) too: retry later
            self._note_error(f"restart failed: {exc if isinstance(exc, CameraError) else _describe(exc)}")
            return attempt + 1
        with self._lock:
            self._state = SourceState.LIVE if self._want_live else SourceState.OPEN
        return attempt + 1  # back to the shortest wait only once the new process has run for a while

    def _fold_counters(self) -> None:
        """Keep the dead process's counters and zero the header for the next one."""
        ring = self._ring
        if ring is None:
            return
        c = ring.counters()
        if not (c.received or c.incomplete or c.lost):
            return
        with self._lock:
            b = self._base
            self._base = RingCounters(
                0, b.received + c.received, b.incomplete + c.incomplete, b.lost + c.lost, 0.0, 0.0
            )
        ring.publish_counters(0, 0, 0, 0.0, 0.0)

    def _replay_into(self, client: AcquisitionClient) -> None:
        for command, kwargs in list(self._replay.values()):
            try:
                client.call(command, self.config.command_timeout_s, **kwargs)
            except CameraError as exc:
                self._note_error(f"could not re-apply {kwargs}: {exc.reason}")


def _describe(exc: BaseException) -> str:
    """``Type: message`` for errors that are not ours (ours already name the camera and the reason)."""
    return f"{type(exc).__name__}: {exc}"
