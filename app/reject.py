"""Reject signal: a camera digital-output pulse per rejected part, and every result as a JSON line on TCP.

Both are off by default, and independent of each other. A part is rejected when it is NG or NOT_JUDGED. The
pulse uses the camera layer's helper (``source.pulse_output``: LineSelector / LineSource / UserOutputValue in
the acquisition process); sources without digital outputs (folders, the demo line, cameras without the nodes)
make the pulse unavailable once, with one message, never per part.
The TCP publisher is for PLC/MES gateways: each connected client receives one JSON object per line, e.g.
``{"time": 1714550400.12, "frame_id": 17, "verdict": "NG", "score": 0.41, ...}``; slow or dead clients are
dropped instead of slowing the line. With a token set (required when listening beyond 127.0.0.1), a client
first sends the token and a newline; a wrong or missing token closes the connection.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.camera.errors import FeatureError
from app.pipeline.record import InspectionRecord, PartRecord
from app.result_clients import CLIENT_GONE, Backoff, StreamClient, listen, read_away, token_matches

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
    max_clients: int = 16  # result-stream clients served at once; more are closed at once and counted
    token: str = field(default="", repr=False)  # stream clients send it as their first line; required beyond
    # loopback. Never logged or shown (repr=False keeps it out of every printed config)
    auth_timeout_s: float = 5.0  # a stream client that has not sent the token within this is disconnected


class ResultServer:
    """A TCP server that sends each published record to every connected client as a JSON line.

    One I/O thread runs a :mod:`selectors` loop (epoll/kqueue: no limit at descriptor 1024) over the listening
    socket and the clients; sockets are non-blocking, so a client that stops reading is dropped after
    ``send_timeout_s`` without holding back the others, and :meth:`publish` never waits. At most
    ``max_clients`` are served (more are closed at once and counted); an accept error (e.g. EMFILE) pauses
    accepting with back-off and is reported once. With a ``token``, a client receives results only after it
    sent the token as its first line; listening beyond loopback requires one.

    Args:
        host: Interface to listen on.
        port: Port; 0 picks a free one.
        config: Timeouts, queue size, client cap and token.
        on_error: The app-level error sink.

    Raises:
        OSError: the address cannot be listened on; PermissionError: beyond loopback without a token.
    """

    def __init__(self, host: str, port: int, config: RejectConfig | None = None, *,
                 on_error: ErrorSink | None = None) -> None:  # fmt: skip
        self.config = config or RejectConfig()
        self._on_error = on_error
        self._token = self.config.token.encode()
        self._server = listen(host, port, bool(self._token))
        self.host, self.port = self._server.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._server, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._clients: dict[socket.socket, StreamClient] = {}  # I/O thread only
        self._backoff = Backoff()
        self._queue: queue.Queue[bytes] = queue.Queue(self.config.queue_size)
        self._closing = threading.Event()
        self._receivers = 0  # clients that get results (updated by the I/O thread)
        self._last_refusal: dict[str, float] = {}  # kind -> monotonic time of the last refusal
        self.sent = 0  # lines sent (to at least one client)
        self.dropped = 0  # lines not queued because the queue was full
        self.refused = 0  # connections closed at once because ``max_clients`` were connected
        self.rejected = 0  # clients disconnected for a wrong or missing token
        self.accept_errors = 0  # failed accepts (each pauses accepting, see Backoff)
        self._thread = threading.Thread(target=self._loop, name="result-server", daemon=True)
        self._thread.start()

    @property
    def clients(self) -> int:
        """Connected clients that receive results."""
        return self._receivers

    def publish(self, data: dict) -> None:
        """Queue one JSON line for every client (never blocks)."""
        line = (json.dumps(data, separators=(",", ":")) + "\n").encode()
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            return
        self._wake()

    def close(self) -> None:
        """Stop accepting, disconnect the clients and end the thread."""
        self._closing.set()
        self._wake()
        self._thread.join(2.0)
        if self._thread.is_alive():  # should not happen; the listening port must be freed anyway
            self._server.close()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (the loop is already due to run) or closed (shutting down)
            pass

    # --- the I/O thread ----------------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            while not self._closing.is_set():
                try:
                    self._step()
                except Exception as exc:  # noqa: BLE001 - the stream never dies; say what happened, go on
                    self._report(exc)
                    self._closing.wait(0.5)
        finally:
            self._close_all()

    def _step(self) -> None:
        now = time.monotonic()
        timeout = _TICK_S if not self._backoff.paused(now) else min(_TICK_S, self._backoff.resume_at - now)
        for key, events in self._selector.select(max(0.0, timeout)):
            if key.fileobj is self._server:
                self._accept_ready()
            elif key.fileobj is self._wake_r:
                read_away(self._wake_r)
            else:
                self._client_ready(key.data, events)
        self._send_queued()
        self._housekeeping(time.monotonic())

    def _accept_ready(self) -> None:
        for _ in range(_ACCEPTS_PER_STEP):
            try:
                conn, address = self._server.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in CLIENT_GONE:  # the client gave up before we took it: nothing wrong here
                    continue
                self._accept_failed(exc)
                return
            if self._backoff.succeeded():
                log.info("result stream: accepting clients again on %s:%s", self.host, self.port)
            self._admit(conn, f"{address[0]}:{address[1]}")

    def _accept_failed(self, exc: OSError) -> None:
        self.accept_errors += 1
        if self._backoff.failed(time.monotonic()):
            self._report(OSError(f"cannot accept clients on {self.host}:{self.port} ({exc.strerror or exc}); "
                                 "trying again with back-off, connected clients keep receiving"))  # fmt: skip
        self._selector.unregister(self._server)  # re-registered by _housekeeping when the pause is over

    def _admit(self, conn: socket.socket, peer: str) -> None:
        if len(self._clients) >= self.config.max_clients:
            self.refused += 1
            if self._quiet_since("full"):
                self._report(ConnectionRefusedError(f"{self.config.max_clients} clients connected (the limit): "
                                                    f"{peer} refused; further refusals within {_QUIET_S:g} s are only counted"))  # fmt: skip
            conn.close()
            return
        conn.setblocking(False)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # reset already; the first read notices
            pass
        client = StreamClient(conn, peer, authenticated=not self._token,
                              deadline=time.monotonic() + self.config.auth_timeout_s)  # fmt: skip
        self._selector.register(conn, selectors.EVENT_READ, client)
        self._clients[conn] = client
        self._receivers += client.authenticated

    def _client_ready(self, client: StreamClient, events: int) -> None:
        if events & selectors.EVENT_WRITE and not self._flush(client):
            return
        if events & selectors.EVENT_READ:
            try:
                data = client.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._drop(client)
            elif not client.authenticated:
                self._check_token(client, data)
            # clients only listen: anything else they send is read away

    def _check_token(self, client: StreamClient, data: bytes) -> None:
        line = client.token_line(data)
        if line is not None and token_matches(line, self._token):
            client.authenticated = True
            self._receivers += 1
        elif line is not None:
            self._refuse(client, "wrong token")
        elif client.token_overlong():
            self._refuse(client, "no token line")

    def _refuse(self, client: StreamClient, why: str) -> None:
        self.rejected += 1
        if self._quiet_since("token"):  # a scan must not flood the log
            self._report(PermissionError(f"client {client.peer} disconnected: {why} "
                                         f"(further refusals within {_QUIET_S:g} s are only counted)"))  # fmt: skip
        self._drop(client)

    def _quiet_since(self, kind: str) -> bool:
        """Note a refusal of ``kind``; True when none came in the last ``_QUIET_S`` (a new episode: report it)."""
        now = time.monotonic()
        last, self._last_refusal[kind] = self._last_refusal.get(kind, -math.inf), now
        return now - last > _QUIET_S

    def _send_queued(self) -> None:
        receivers = [c for c in self._clients.values() if c.authenticated]
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            for client in receivers:
                if client.sock.fileno() != -1 and not client.queue(line):
                    self._drop(client)  # too far behind: it does not hold the line up
            self.sent += bool(receivers)
        for client in receivers:
            if client.sock.fileno() != -1 and client.unsent:
                self._flush(client)

    def _flush(self, client: StreamClient) -> bool:
        """Send what the client takes; wait for writability only while lines remain. False if it was dropped."""
        if not client.flush():
            self._drop(client)
            return False
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.unsent else 0)
        self._selector.modify(client.sock, events, client)
        return True

    def _housekeeping(self, now: float) -> None:
        for client in list(self._clients.values()):
            if not client.authenticated and now > client.deadline:
                self._refuse(client, f"no token within {self.config.auth_timeout_s:g} s")
            elif client.stalled(now, self.config.send_timeout_s):
                self._drop(client)  # not reading: the others and the line do not wait for it
        if self._backoff.resume_at and not self._backoff.paused(now):
            self._backoff.resume_at = 0.0
            self._selector.register(self._server, selectors.EVENT_READ)

    def _drop(self, client: StreamClient) -> None:
        if self._clients.pop(client.sock, None) is None:
            return
        self._receivers -= client.authenticated
        self._selector.unregister(client.sock)
        client.sock.close()

    def _close_all(self) -> None:
        for client in list(self._clients.values()):
            self._drop(client)
        self._selector.close()
        for s in (self._server, self._wake_r, self._wake_w):
            s.close()

    def _report(self, exc: BaseException) -> None:
        if self._on_error is not None:
            self._on_error("result publisher", exc)
        else:
            log.error("result publisher: %s", exc)


_TICK_S = 0.2  # longest the I/O thread sleeps: deadlines (token, stalled clients, back-off) are this exact
_ACCEPTS_PER_STEP = 64  # connections taken per wake-up before the clients get their turn again
_QUIET_S = 60.0  # refusals (cap, token) are reported once per episode: an episode ends after this long without one


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
