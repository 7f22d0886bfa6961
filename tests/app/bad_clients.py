"""Seeded badly-behaved TCP clients of the result stream (for the fuzz suite): each behaviour is a function that
runs a crowd of clients against ``(host, port)`` and returns how many connections it made.

Every behaviour is deterministic in what it sends (fixed seeds); the clients run in the calling thread and
close every socket they open.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable, Iterator

import numpy as np

Address = tuple[str, int]


def _connect(address: Address) -> socket.socket | None:
    try:
        return socket.create_connection(address, timeout=2.0)
    except OSError:  # refused or reset while the server is busy: a behaviour, not a failure
        return None


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (a crashed or unplugged peer)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(OSError):
        action()


def storm(address: Address, rng: np.random.Generator, n: int = 150) -> int:
    """Connect and disconnect as fast as possible, half of them with a reset."""
    for _ in range(n):
        sock = _connect(address)
        if sock is not None:
            _reset(sock) if rng.random() < 0.5 else sock.close()
    return n


def never_read(address: Address, rng: np.random.Generator, n: int = 6) -> list[socket.socket]:
    """Clients with tiny receive buffers that never read (returned open: the caller closes them)."""
    crowd = []
    for _ in range(n):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rng.integers(1024, 8192)))
        sock.settimeout(2.0)
        _quietly(lambda s=sock: s.connect(address))
        crowd.append(sock)
    return crowd


def garbage(address: Address, rng: np.random.Generator, n: int = 40) -> int:
    """Random bytes: binary noise, long lines, NULs, partial UTF-8, telnet and HTTP requests; then close."""
    canned = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\xff\xfb\x01\xff\xfd\x03", b"\x00" * 4096, b"\xc3", b"\r\n" * 500,
              b"SSH-2.0-OpenSSH_9.6\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]  # fmt: skip
    for i in range(n):
        sock = _connect(address)
        if sock is None:
            continue
        payload = canned[i] if i < len(canned) else rng.integers(0, 256, int(rng.integers(1, 200_000)), dtype=np.uint8).tobytes()
        _quietly(lambda s=sock, p=payload: s.sendall(p))
        _reset(sock) if rng.random() < 0.3 else sock.close()
    return n


def half_close(address: Address, rng: np.random.Generator, n: int = 30) -> int:
    """Send nothing or a partial line, close the sending side, linger a moment, then go."""
    for _ in range(n):
        sock = _connect(address)
        if sock is None:
            continue
        if rng.random() < 0.5:
            _quietly(lambda s=sock: s.sendall(b"partial-tok"))
        _quietly(lambda s=sock: s.shutdown(socket.SHUT_WR))
        time.sleep(0.002)
        sock.close()
    return n


def silent(address: Address, rng: np.random.Generator, n: int = 10) -> list[socket.socket]:
    """Connect and say nothing (no token, no close): the server must time them out (returned open)."""
    return [s for s in (_connect(address) for _ in range(n)) if s is not None]


def wrong_tokens(address: Address, rng: np.random.Generator, token: str, n: int = 60) -> int:
    """Near-misses of the token: prefix, suffix, case, spaces, empty line, overlong line, the token without a newline."""
    variants = [token[:-1], token + "x", token.upper(), f" {token}", f"{token} ", "", token * 300,
                token.encode().hex()]  # fmt: skip
    for i in range(n):
        sock = _connect(address)
        if sock is None:
            continue
        guess = variants[i % len(variants)] if i < 3 * len(variants) else rng.bytes(int(rng.integers(1, 40))).hex()
        _quietly(lambda s=sock, g=guess: s.sendall(g.encode() + b"\n"))
        _quietly(lambda s=sock: s.recv(1))  # the server closes it
        sock.close()
    return n


def over_cap(address: Address, rng: np.random.Generator, cap: int) -> list[socket.socket]:
    """Twice the client cap at once (returned open)."""
    return [s for s in (_connect(address) for _ in range(2 * cap)) if s is not None]


def behaviours(token: str, cap: int) -> Iterator[tuple[str, Callable[[Address, np.random.Generator], object]]]:
    """``(name, run)`` of every behaviour; ``run`` returns a count or a list of sockets to close later."""
    yield "storm", storm
    yield "never-read", never_read
    yield "garbage", garbage
    yield "half-close", half_close
    yield "silent", silent
    yield "over-cap", lambda a, r: over_cap(a, r, cap)
    if token:
        yield "wrong-token", lambda a, r: wrong_tokens(a, r, token)
