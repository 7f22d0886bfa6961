"""Reject signal: a camera digital-output pulse per rejected part, and every result as a JSON line on TCP.

Both are off by default, and independent of each other. A part is rejected when it is NG or NOT_JUDGED. The
pulse uses the camera layer's helper (``source.pulse_output``: LineSelector / LineSource / UserOutputValue in
the acquisition process); sources without digital outputs (folders, the demo line, cameras without the nodes)
make the pulse unavailable once, with one message, never per part.
The TCP publisher is for PLC/MES gateways: each connected client receives one JSON object per line, e.g.
``{"time": 1714550400.12, "frame_id": 17, "verdict": "NG", "score": 0.41, ...}``; slow or dead clients are
dropped instead of slowing the line.
"""

from __future__ import annotations

import json
import logging
import queue
import select
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.camera.errors import FeatureError
from app.pipeline.record import InspectionRecord, PartRecord

log = logging.getLogger(__name__)

ErrorSink = Callable[[str, BaseException], None]


@dataclass(frozen=True)
class RejectConfig:
    """Which reject outputs are on and how they behave."""

    pulse_enabled: bool = False  # pulse a camera output line on NG
    line: str = "Line1"  # LineSelector entry of the output
    user_output: str = "UserOutput1"  # UserOutputSelector entry driven by the line
    pulse_s: float = 0.05  # how long the line stays high
    tcp_enabled: bool = False  # publish every result as a JSON line
    host: str = "127.0.0.1"  # interface to listen on; 127.0.0.1 keeps it local to this PC
    port: int = 5020  # TCP port (0 = any free port, see ResultServer.port)
    send_timeout_s: float = 0.5  # a client that cannot take a line within this is dropped
    queue_size: int = 1000  # results waiting to be sent; more are dropped and counted


class ResultServer:
    """A TCP server that sends each published record to every connected client as a JSON line.

    Args:
        host: Interface to listen on.
        port: Port; 0 picks a free one.
        config: Timeouts and queue size.
        on_error: The app-level error sink.
    """

    def __init__(self, host: str, port: int, config: RejectConfig | None = None, *,
                 on_error: ErrorSink | None = None) -> None:  # fmt: skip
        self.config = config or RejectConfig()
        self._on_error = on_error
        self._server = socket.create_server((host, port), reuse_port=False)
        self.host, self.port = self._server.getsockname()[:2]
        self._clients: list[socket.socket] = []
        self._clients_lock = threading.Lock()
        self._queue: queue.Queue[bytes | None] = queue.Queue(self.config.queue_size)
        self._closing = threading.Event()
        self.sent = 0  # lines sent (to at least one client)
        self.dropped = 0  # lines not queued because the queue was full
        self._threads = [
            threading.Thread(target=self._accept_loop, name="result-server-accept", daemon=True),
            threading.Thread(target=self._send_loop, name="result-server-send", daemon=True),
        ]
        for t in self._threads:
            t.start()

    @property
    def clients(self) -> int:
        """Connected clients."""
        with self._clients_lock:
            return len(self._clients)

    def publish(self, data: dict) -> None:
        """Queue one JSON line for every client (never blocks)."""
        line = (json.dumps(data, separators=(",", ":")) + "\n").encode()
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1

    def close(self) -> None:
        """Stop accepting, disconnect the clients and end the threads."""
        self._closing.set()
        self._queue.put(None)
        for t in self._threads:
            t.join(2.0)
        self._server.close()
        with self._clients_lock:
            for c in self._clients:
                c.close()
            self._clients.clear()

    def _accept_loop(self) -> None:
        """Accept clients and notice those that hung up (clients only listen; anything they send is read away)."""
        while not self._closing.is_set():
            with self._clients_lock:
                watched = [self._server, *self._clients]
            try:
                readable, _, _ = select.select(watched, [], [], 0.2)
            except (OSError, ValueError):  # a client was closed meanwhile; look again
                continue
            for sock in readable:
                if sock is self._server:
                    self._accept()
                else:
                    self._read_away(sock)

    def _accept(self) -> None:
        try:
            conn, _ = self._server.accept()
        except OSError as exc:
            if not self._closing.is_set():
                self._report(exc)
            return
        conn.settimeout(self.config.send_timeout_s)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._clients_lock:
            self._clients.append(conn)

    def _read_away(self, client: socket.socket) -> None:
        try:
            gone = not client.recv(4096)  # select said readable: returns at once (data or end of stream)
        except TimeoutError:
            return
        except OSError:
            gone = True
        if gone:
            self._drop(client)

    def _send_loop(self) -> None:
        while True:
            line = self._queue.get()
            if line is None:
                return
            with self._clients_lock:
                clients = list(self._clients)
            for client in clients:
                try:
                    client.sendall(line)
                except OSError:  # gone, or too slow to keep up: drop it, the line does not wait
                    self._drop(client)
            self.sent += bool(clients)

    def _drop(self, client: socket.socket) -> None:
        with self._clients_lock:
            if client in self._clients:
                self._clients.remove(client)
        client.close()

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("result publisher", exc)
        else:
            log.error("result publisher: %s", exc)


class PulseOutput:
    """A camera's reject pulse: raises its output line for every rejected part (NG or NOT_JUDGED), from its own
    thread. Independent of the result stream: a stream that cannot listen never switches the pulse off.

    Args:
        config: Line, user output and pulse length (``pulse_enabled`` must be set).
        source: The frame source; its ``pulse_output(line, duration_s, user_output)`` is used if it has one.
        on_error: The app-level error sink.
    """

    label = "reject pulse"

    def __init__(self, config: RejectConfig, *, source: object | None = None,
                 on_error: ErrorSink | None = None) -> None:  # fmt: skip
        self.config = config
        self._on_error = on_error
        pulse = getattr(source, "pulse_output", None)
        self._pulse: Callable | None = pulse if callable(pulse) else None
        self.pulse_unavailable = ""  # why pulses are not sent, once known ("" while they work)
        if self._pulse is None:
            self.pulse_unavailable = f"{getattr(source, 'name', 'this source')} has no digital output"
        self.pulses = 0  # pulses sent
        self.missed = 0  # rejects that could not be queued (the queue was full)
        self._queue: queue.Queue[bool | None] = queue.Queue(config.queue_size)
        self._thread = threading.Thread(target=self._run, name="reject-pulse", daemon=True)
        self._thread.start()

    def submit(self, record: InspectionRecord) -> None:
        """Hand a record over (never blocks); only rejected parts pulse."""
        self._queue_pulse(record.rejected)

    def submit_part(self, part: PartRecord) -> None:
        """A part judged by every camera (triggered modes): one pulse when it is rejected. The station then sends
        parts to one camera's pulse only (the first camera with a digital output) and no records to any."""
        self._queue_pulse(part.rejected)

    def _queue_pulse(self, rejected: bool) -> None:
        if self._pulse is None or not rejected:
            return
        try:
            self._queue.put_nowait(True)
        except queue.Full:
            self.missed += 1

    def close(self) -> None:
        """End the thread."""
        self._queue.put(None)
        self._thread.join(2.0)

    def _run(self) -> None:
        while self._queue.get() is not None:
            try:
                self._send_pulse()
            except Exception as exc:  # noqa: BLE001 - this thread never dies
                self._report(exc)

    def _send_pulse(self) -> None:
        if self._pulse is None:
            return
        try:
            self._pulse(self.config.line, self.config.pulse_s, self.config.user_output)
            self.pulses += 1
        except FeatureError as exc:  # a camera without the output nodes: say so once, stop trying
            self._pulse = None
            self.pulse_unavailable = f"reject pulse disabled: {exc}"
            self._report(exc)

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("reject output", exc)
        else:
            log.error("reject output: %s", exc)


class StreamOutput:
    """Every record as a JSON line to the TCP clients of a :class:`ResultServer` (the server's thread sends).

    Raises:
        OSError: the address cannot be listened on (e.g. the port is taken by another program).
    """

    label = "result stream"

    def __init__(self, config: RejectConfig, *, on_error: ErrorSink | None = None) -> None:
        self.server = ResultServer(config.host, config.port, config, on_error=on_error)

    def submit(self, record: InspectionRecord) -> None:
        """Queue the record's JSON line (never blocks)."""
        self.server.publish(record.to_dict())

    def submit_part(self, part: PartRecord) -> None:
        """Queue a part's JSON line (never blocks): ``"kind": "part"``, the part's ``verdict``, ``trigger``,
        ``part_id``, ``time``, ``recipe``, and ``cameras``, each camera's record as a record line has it. In
        triggered mode the station sends parts only, so a client reads one line per part."""
        self.server.publish({"kind": "part", **part.to_dict()})

    def close(self) -> None:
        """Stop listening and disconnect the clients."""
        self.server.close()
