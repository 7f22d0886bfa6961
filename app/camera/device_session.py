"""One GenTL device opened through harvesters, as used inside the acquisition process.

Owns the process's single ``Harvester`` and at most one ``ImageAcquirer``. Every wait has a timeout; a device
that stops answering raises :class:`DeviceLost`, and :meth:`DeviceSession.reconnect` tries to open it again
(the caller decides when, with back-off). No device-lost event exists in GenTL, so loss is detected from
fetch errors and from :meth:`probe`, which forces a register read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.camera.errors import CameraError
from app.camera.gentl_buffer import buffer_image
from app.camera.pixel_formats import decoded_nbytes, supported_formats


class DeviceLost(Exception):
    """The device stopped answering (unplugged, powered off, network down)."""


@dataclass(frozen=True)
class SessionConfig:
    """How to find and run the device."""

    producers: tuple[str, ...]  # .cti files to load
    serial: str | None = None  # serial number to open; None opens the first device listed
    num_buffers: int = 4  # buffers announced to the producer
    event_wait_ms: int = 10  # one wait for a buffer event inside harvesters; fetch timeouts are multiples


@dataclass(frozen=True)
class RawFrame:
    """A decoded frame and its metadata, ready for the ring."""

    image: np.ndarray  # (H, W) or (H, W, 3) RGB, uint8/uint16
    frame_id: int  # block id from the producer
    timestamp: float  # time.monotonic() at arrival in this process
    device_timestamp: int  # ns, 0 if the producer gives none


def _incomplete_counter():
    """A harvesters callback counting incomplete buffers (harvesters requeues them and returns nothing).

    harvesters is imported here, not at module level, so the application process never loads it.
    """
    from harvesters.core import Callback

    class IncompleteCounter(Callback):
        def __init__(self) -> None:
            self.count = 0

        def emit(self, context=None) -> None:
            self.count += 1

    return IncompleteCounter()


class DeviceSession:
    """The opened device. Not thread-safe: the acquisition process uses it from one thread."""

    def __init__(self, config: SessionConfig) -> None:
        from harvesters.core import Harvester

        self.config = config
        self._harvester = Harvester()
        for path in config.producers:
            self._harvester.add_file(path)
        self._ia = None
        self._incomplete = _incomplete_counter()
        self._has_device_ts = True
        self.serial = config.serial or ""
        self.hidden_until = 0.0  # test hook: pretend the device is unplugged until this monotonic time

    # --- open / close ------------------------------------------------------------------------------

    def open(self) -> dict:
        """Find and open the device; returns its description (serial, vendor, model, sizes ...)."""
        from harvesters.core import ImageAcquirer

        try:
            self._harvester.update()
        except Exception as exc:  # noqa: BLE001 - a producer failing to enumerate
            raise CameraError(
                self.serial or "(first device)", f"device enumeration failed: {_text(exc)}"
            ) from exc
        info = self._find()
        try:
            self._ia = self._harvester.create(info)
        except Exception as exc:  # noqa: BLE001 - vendor errors (busy, no access) come in many types
            raise CameraError(self.serial, f"cannot open the device: {_text(exc)}") from exc
        self._ia.num_buffers = self.config.num_buffers
        self._ia.timeout_period_on_update_event_data_call = self.config.event_wait_ms
        self._ia.add_callback(ImageAcquirer.Events.INCOMPLETE_BUFFER, self._incomplete)
        self._newest_only()
        return self.describe(info)

    def _find(self):
        devices = list(self._harvester.device_info_list)
        if time.monotonic() < self.hidden_until:
            devices = [d for d in devices if str(d.serial_number) != self.serial]
        if not self.serial and devices:  # first open without a serial; afterwards stick to the one found
            self.serial = str(devices[0].serial_number)
            return devices[0]
        for d in devices:
            if str(d.serial_number) == self.serial:
                return d
        found = ", ".join(str(d.serial_number) for d in devices) or "none"
        raise CameraError(self.serial or "(first device)", f"not found (serial numbers present: {found})")

    def _newest_only(self) -> None:
        """Live-view semantics: the producer keeps only the newest filled buffer."""
        try:
            stream_nm = self._ia.data_streams[0].node_map
            if stream_nm.has_node("StreamBufferHandlingMode"):
                stream_nm.StreamBufferHandlingMode.value = "NewestOnly"
        except Exception:  # noqa: BLE001 - some producers lack the stream node map; fetch still works
            pass

    def describe(self, info=None) -> dict:
        """Serial, vendor, model, producer and the largest decoded frame size (to size the ring)."""
        nm = self.node_map
        formats = [f for f in _symbolics(nm, "PixelFormat") if f in supported_formats()] or ["RGB8"]
        w_max = _int_node(nm, "WidthMax") or _node_attr(nm, "Width", "max") or 4096
        h_max = _int_node(nm, "HeightMax") or _node_attr(nm, "Height", "max") or 4096
        ring_bytes = max(decoded_nbytes(f, int(w_max), int(h_max)) for f in formats)
        return {
            "serial": self.serial,
            "vendor": str(_safe(lambda: info.vendor, "")),
            "model": str(_safe(lambda: info.model, "")),
            "device_id": str(_safe(lambda: info.id_, "")),
            "producer": str(_safe(lambda: info.parent.parent.module.path_name, "")),
            "max_frame_bytes": int(ring_bytes),
        }

    @property
    def node_map(self):
        """Remote device node map (the camera's features)."""
        if self._ia is None:
            raise CameraError(self.serial, "the device is not open")
        return self._ia.remote_device.node_map

    @property
    def is_open(self) -> bool:
        """An acquirer exists."""
        return self._ia is not None

    @property
    def incomplete(self) -> int:
        """Incomplete buffers seen since the session was created."""
        return self._incomplete.count

    def start(self) -> None:
        """Start streaming."""
        self._guard(lambda: self._ia.start())

    def stop(self) -> None:
        """Stop streaming (no-op if not streaming)."""
        if self._ia is not None and self._ia.is_acquiring():
            self._guard(lambda: self._ia.stop())

    def release(self) -> None:
        """Destroy the acquirer (the device is free for others); the Harvester stays for a reconnect."""
        ia, self._ia = self._ia, None
        if ia is None:
            return
        for step in (ia.stop, ia.destroy):
            try:
                step()
            except Exception:  # noqa: BLE001 - the device may be gone; release what we can
                pass

    def close(self) -> None:
        """Release the device and unload the producers."""
        self.release()
        try:
            self._harvester.reset()
        except Exception:  # noqa: BLE001
            pass

    # --- frames ------------------------------------------------------------------------------------

    def fetch(self, timeout_s: float) -> RawFrame | None:
        """The next complete frame, or None if none came within ``timeout_s``.

        Raises:
            DeviceLost: the producer reported an error (the device is gone or broken).
            CameraError: the pixel format cannot be decoded.
        """
        if time.monotonic() < self.hidden_until:
            raise DeviceLost("device unplugged (simulated)")
        wait = max(timeout_s, 0.001)  # harvesters treats 0 as "wait forever"
        # the GenTL buffer itself: we build harvesters' payload, so a payload it cannot build is ours to
        # handle (harvesters would leave that buffer out of the pool) and the buffer always goes back
        buffer = self._guard(lambda: self._ia.try_fetch(timeout=wait, is_raw=True))
        if buffer is None:
            return None
        try:
            arrived = time.monotonic()
            image = buffer_image(buffer, self.node_map)
            return RawFrame(image, int(buffer.frame_id), arrived, self._device_timestamp(buffer))
        finally:
            self._guard(lambda: buffer.parent.queue_buffer(buffer))

    def _device_timestamp(self, buffer) -> int:
        if not self._has_device_ts:
            return 0
        try:
            return int(buffer.timestamp_ns)
        except Exception:  # noqa: BLE001 - 'not available' on producers without timestamps; ask once
            self._has_device_ts = False
            return 0

    def probe(self) -> None:
        """Force a register read; raises :class:`DeviceLost` if the device does not answer."""
        if time.monotonic() < self.hidden_until:
            raise DeviceLost("device unplugged (simulated)")

        def read():
            node = self.node_map.get_node("Width")
            node.node.invalidate_node()
            return node.value

        self._guard(read)

    def reconnect(self) -> dict:
        """Release the old acquirer, re-enumerate and open the same serial again (raises if absent)."""
        self.release()
        return self.open()

    def _guard(self, action):
        try:
            return action()
        except CameraError:
            raise
        except Exception as exc:  # noqa: BLE001 - GenTL errors of any kind mean the device is unusable
            raise DeviceLost(_text(exc)) from exc


def _symbolics(nm, name: str) -> tuple[str, ...]:
    return (
        tuple(_safe(lambda: nm.get_node(name).symbolics, ()))
        if _safe(lambda: nm.has_node(name), False)
        else ()
    )


def _int_node(nm, name: str) -> int | None:
    return (
        _safe(lambda: int(nm.get_node(name).value), None) if _safe(lambda: nm.has_node(name), False) else None
    )


def _node_attr(nm, name: str, attr: str):
    return _safe(lambda: getattr(nm.get_node(name), attr), None)


def _safe(read, default):
    try:
        value = read()
    except Exception:  # noqa: BLE001 - optional information; vendor exceptions vary
        return default
    return default if value is None else value


def _text(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
