"""The connections of the result stream (:class:`app.reject.ResultServer`): one client's unsent lines and token
handshake, the back-off of the accept loop, and whether an address stays on this PC.

Only the server's I/O thread touches these objects; sockets are non-blocking.
"""

from __future__ import annotations

import errno
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass, field

MAX_UNSENT = 1 << 20  # bytes a client may fall behind before it is dropped (about 4,000 result lines)
MAX_TOKEN_LINE = 1024  # bytes a client may send before its token line ends; more is not a token
CLIENT_GONE = {errno.ECONNABORTED, errno.ECONNRESET, errno.EPROTO}  # accept errors that concern one client only


def is_loopback(address: str) -> bool:
    """True when ``address`` (a numeric address, as ``getsockname`` gives it) is reachable from this PC only."""
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@dataclass(eq=False)
class StreamClient:
    """One connected client: its socket, whether it sent the token, and the bytes it has not taken yet."""

    sock: socket.socket
    peer: str  # "address:port", for messages
    authenticated: bool  # receives results (no token configured, or the right token was sent)
    deadline: float  # monotonic time by which a client still waiting for its token must have sent it
    unsent: bytearray = field(default_factory=bytearray)
    last_progress: float = field(default_factory=time.monotonic)  # when the client last took bytes
    inbox: bytearray = field(default_factory=bytearray)  # the token line so far

    def queue(self, line: bytes) -> bool:
        """Append a line to send; False when the client is too far behind (the caller drops it)."""
        if not self.unsent:
            self.last_progress = time.monotonic()  # the wait for this client starts now
        self.unsent += line
        return len(self.unsent) <= MAX_UNSENT

    def flush(self) -> bool:
        """Send what the socket takes now; False when the client is gone."""
        try:
            sent = self.sock.send(self.unsent)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if sent:
            del self.unsent[:sent]
            self.last_progress = time.monotonic()
        return True

    def stalled(self, now: float, timeout_s: float) -> bool:
        """Lines are waiting and the client took nothing for ``timeout_s``."""
        return bool(self.unsent) and now - self.last_progress > timeout_s

    def token_line(self, data: bytes) -> bytes | None:
        """Collect received bytes until the first line ends; the line (without CR/LF) once it has, else None."""
        self.inbox += data
        line, newline, _ = self.inbox.partition(b"\n")
        if not newline:
            return None
        self.inbox.clear()
        return bytes(line.rstrip(b"\r"))

    def token_overlong(self) -> bool:
        """More bytes than a token line may have arrived without a line end."""
        return len(self.inbox) > MAX_TOKEN_LINE


def token_matches(line: bytes, token: bytes) -> bool:
    """Compare in constant time (a guess reveals nothing about how close it came)."""
    return hmac.compare_digest(line, token)


class Backoff:
    """Pauses the accept loop after an accept error (e.g. EMFILE), doubling up to ``longest_s``.

    A listening socket with a connection waiting stays readable, so an accept that keeps failing would spin.
    """

    def __init__(self, first_s: float = 0.05, longest_s: float = 2.0) -> None:
        self.first_s, self.longest_s = first_s, longest_s
        self._delay = 0.0
        self.resume_at = 0.0  # monotonic time to try again; 0 while accepting
        self.in_episode = False  # accept failed since it last worked

    def failed(self, now: float) -> bool:
        """Note a failure and set the pause; True when it starts an episode (report it then, only then)."""
        self._delay = min(self.longest_s, self._delay * 2 if self._delay else self.first_s)
        self.resume_at = now + self._delay
        started, self.in_episode = not self.in_episode, True
        return started

    def succeeded(self) -> bool:
        """Note an accept that worked; True when it ends an episode."""
        ended, self.in_episode = self.in_episode, False
        self._delay = 0.0
        return ended

    def paused(self, now: float) -> bool:
        return now < self.resume_at


def listen(host: str, port: int, has_token: bool) -> socket.socket:
    """A non-blocking listening socket; beyond loopback only with a token (results name parts and verdicts).

    Raises:
        OSError: the address cannot be listened on; PermissionError: beyond loopback without a token.
    """
    try:
        server = socket.create_server((host, port), reuse_port=False)
    except (OverflowError, ValueError, TypeError) as exc:  # a port beyond 65535, a host with odd characters
        raise OSError(f"{host}:{port}: {exc}") from exc
    address = server.getsockname()[0]
    if not has_token and not is_loopback(address):
        server.close()
        msg = ("other computers can reach this address: set a token in the reject settings "
               "(clients send it as their first line), or listen on 127.0.0.1")  # fmt: skip
        raise PermissionError(msg)
    server.setblocking(False)
    return server


def read_away(sock: socket.socket) -> None:
    """Read and discard what a non-blocking socket holds."""
    try:
        while sock.recv(4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass
