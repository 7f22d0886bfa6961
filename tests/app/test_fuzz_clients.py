"""Fuzz suite, TCP side: about 600 badly-behaved clients of the result stream (storms of connects and resets,
clients that never read, garbage, half-closed and silent connections, twice the client cap, wrong tokens),
with and without a token. While they run, a well-behaved client must receive every published result, in
order; afterwards a new client must be served; the only errors reported are the server's own one-line
refusals, and no thread ends in a traceback.

Behaviours are in ``bad_clients.py`` (seeded).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import pytest
from bad_clients import behaviours

from app.reject import RejectConfig, StreamOutput

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
CAP = 12
EXPECTED_REPORTS = {"PermissionError", "ConnectionRefusedError"}  # a refused token, the cap reached


class GoodClient:
    """Connects (sending the token if there is one) and reads every line from its own thread."""

    def __init__(self, address: tuple[str, int], token: str) -> None:
        self.sock = socket.create_connection(address, timeout=10.0)
        if token:
            self.sock.sendall(token.encode() + b"\n")
        self.ids: list[int] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        data = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            data += chunk
            *lines, data = data.split(b"\n")
            self.ids.extend(json.loads(line)["i"] for line in lines)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)  # ends the reader's recv (a close from another thread would not)
        self.sock.close()
        self._thread.join(5.0)


def wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


@pytest.mark.parametrize("token", ["", "line-7-token"])
def test_the_result_stream_keeps_serving_well_behaved_clients(token: str) -> None:
    reports: list[BaseException] = []
    config = RejectConfig(tcp_enabled=True, port=0, token=token, max_clients=CAP, auth_timeout_s=0.5,
                          send_timeout_s=2.0, queue_size=100_000)  # fmt: skip
    output = StreamOutput(config, on_error=lambda where, exc: reports.append(exc))
    server = output.server
    address = (server.host, server.port)
    good = GoodClient(address, token)
    wait_until(lambda: server.clients == 1)
    published = 0
    for seed, (name, run) in enumerate(behaviours(token, CAP)):
        held = run(address, np.random.default_rng(seed))
        for _ in range(20):  # results keep flowing while the crowd is there
            output.server.publish({"i": published, "behaviour": name})
            published += 1
        for sock in held if isinstance(held, list) else []:
            sock.close()
    wait_until(lambda: len(good.ids) == published)
    assert good.ids == list(range(published))  # every result, in order, to the client that behaved
    wait_until(lambda: server.clients == 1)  # the crowd is gone; its places are free again
    late = GoodClient(address, token)
    wait_until(lambda: server.clients == 2)
    output.server.publish({"i": published})
    wait_until(lambda: late.ids == [published] and good.ids[-1] == published)
    for client in (good, late):
        client.close()
    output.close()
    assert {type(r).__name__ for r in reports} <= EXPECTED_REPORTS, reports
    assert all("\n" not in str(r) and (not token or token not in str(r)) for r in reports)
    assert server.refused > 0 and (server.rejected > 0 if token else True)
