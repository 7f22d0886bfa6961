"""Reject outputs: JSON lines over local TCP, and the camera output pulse on every rejected part."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import threading
import time

import pytest

from app.camera.errors import FeatureError
from app.pipeline.record import InspectionRecord
from app.reject import PulseOutput, RejectConfig, StreamOutput


def record(i: int, verdict: str) -> InspectionRecord:
    return InspectionRecord(time=1714550400.0 + i, frame_id=i, camera="CAM-1", model_name="flange",
                            model_version="v2", score=0.5, normalized=0.6, threshold=0.4, verdict=verdict,
                            roi=(0, 0, 10, 10), latency_ms=3.0)  # fmt: skip


def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def read_lines(sock: socket.socket, count: int) -> list[dict]:
    data = b""
    sock.settimeout(5.0)
    while data.count(b"\n") < count:
        chunk = sock.recv(65536)
        assert chunk, "server closed the connection"
        data += chunk
    return [json.loads(line) for line in data.decode().splitlines()]


def test_tcp_publisher_delivers_json_lines_to_every_client() -> None:
    output = StreamOutput(RejectConfig(tcp_enabled=True, port=0))
    server = output.server
    assert server.host == "127.0.0.1"
    a = socket.create_connection((server.host, server.port))
    b = socket.create_connection((server.host, server.port))
    wait_until(lambda: server.clients == 2)
    for i, verdict in enumerate(["OK", "NG", "OK"]):
        output.submit(record(i, verdict))
    for client in (a, b):
        lines = read_lines(client, 3)
        assert [line["verdict"] for line in lines] == ["OK", "NG", "OK"]
        assert lines[1] == record(1, "NG").to_dict() | {"roi": [0, 0, 10, 10]}
    a.close()
    output.submit(record(3, "NG"))  # a vanished client is dropped; the other still gets lines
    assert read_lines(b, 1)[0]["frame_id"] == 3
    wait_until(lambda: server.clients == 1)
    b.close()
    output.close()
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1.0)


def test_not_judged_parts_are_published_with_their_reason_and_no_score() -> None:
    output = StreamOutput(RejectConfig(tcp_enabled=True, port=0))
    client = socket.create_connection((output.server.host, output.server.port))
    wait_until(lambda: output.server.clients == 1)
    refused = InspectionRecord(time=1.0, frame_id=5, camera="CAM-1", model_name="flange", model_version="v2",
                               score=None, normalized=None, threshold=0.4, verdict="NOT_JUDGED", roi=None,
                               latency_ms=2.0, reason="alignment failed: no part in view")  # fmt: skip
    output.submit(refused)
    (line,) = read_lines(client, 1)
    assert line["verdict"] == "NOT_JUDGED" and line["score"] is None and line["reason"].startswith("alignment")
    client.close()
    output.close()


# --- the result server under stress -------------------------------------------------------------------


def stream(errors: list | None = None, **config) -> StreamOutput:
    sink = (lambda where, exc: errors.append(str(exc))) if errors is not None else None
    return StreamOutput(RejectConfig(tcp_enabled=True, port=0, **config), on_error=sink)


def connect(output: StreamOutput, token: str | None = None) -> socket.socket:
    client = socket.create_connection((output.server.host, output.server.port), timeout=5.0)
    if token is not None:
        client.sendall(token.encode() + b"\n")
    return client


def closed_by_server(client: socket.socket, timeout: float = 5.0) -> bool:
    """True when the server closed the connection (end of stream or reset) without sending a line."""
    client.settimeout(timeout)
    try:
        return client.recv(4096) == b""
    except ConnectionResetError:
        return True


@contextlib.contextmanager
def descriptors_above(number: int):
    """Hold open descriptors until the next one the process gets is above ``number`` (select() cannot watch it).
    The soft limit is raised for the while if it is lower (1024 on many desktops; the hard limit allows more)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = number + 100
    assert hard == resource.RLIM_INFINITY or hard >= wanted, f"this test needs {wanted} open files (hard limit {hard})"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    held = [os.open(os.devnull, os.O_RDONLY)]
    try:
        while held[-1] <= number:
            held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def no_free_descriptors():
    """Every new descriptor fails with EMFILE (the soft limit lowered, the numbers below it taken)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    try:
        with contextlib.suppress(OSError):
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for fd in held:
            os.close(fd)


def test_the_server_accepts_and_sends_on_descriptors_above_1024() -> None:
    with descriptors_above(1100):
        output = stream()
        assert output.server._server.fileno() > 1024  # where select() fails
        client = connect(output)
        wait_until(lambda: output.server.clients == 1)
        output.submit(record(1, "NG"))
        assert read_lines(client, 1)[0]["verdict"] == "NG"
        client.close()
        output.close()


def test_accept_errors_pause_accepting_are_reported_once_and_connected_clients_keep_receiving() -> None:
    errors: list[str] = []
    output = stream(errors)
    server = output.server
    served = connect(output)
    wait_until(lambda: server.clients == 1)
    waiting = [socket.socket() for _ in range(3)]  # descriptors taken before there are none left
    with no_free_descriptors():
        for sock in waiting:
            sock.connect((server.host, server.port))  # queued by the kernel; accept() fails with EMFILE
        wait_until(lambda: len(errors) > 0)
        time.sleep(1.5)
        output.submit(record(2, "NG"))
        assert read_lines(served, 1)[0]["frame_id"] == 2
        reported = len(errors)
    assert reported == 1 and "cannot accept clients" in errors[0] and "open files" in errors[0]
    assert 1 <= server.accept_errors <= 12, server.accept_errors  # back-off: a handful of tries, not thousands
    wait_until(lambda: server.clients == 4)  # accepting again once descriptors are free
    output.submit(record(3, "OK"))
    assert all(read_lines(c, 1)[0]["frame_id"] == 3 for c in [served, *waiting])
    for c in [served, *waiting]:
        c.close()
    output.close()


def test_clients_beyond_the_cap_are_refused_and_counted() -> None:
    errors: list[str] = []
    output = stream(errors, max_clients=3)
    clients = [connect(output) for _ in range(3)]
    wait_until(lambda: output.server.clients == 3)
    extra = [connect(output) for _ in range(4)]
    assert all(closed_by_server(c) for c in extra)
    assert output.server.refused == 4 and output.server.clients == 3
    assert len(errors) == 1 and "3 clients connected (the limit)" in errors[0]
    clients.pop().close()  # a place frees up: the next client is served
    wait_until(lambda: output.server.clients == 2)
    late = connect(output)
    wait_until(lambda: output.server.clients == 3)
    output.submit(record(4, "OK"))
    assert all(read_lines(c, 1)[0]["frame_id"] == 4 for c in [*clients, late])
    for c in [*clients, late, *extra]:
        c.close()
    output.close()


def test_a_client_that_stops_reading_is_dropped_without_holding_back_the_others() -> None:
    output = stream(send_timeout_s=0.3, queue_size=100_000)
    stuck = connect(output)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    good = connect(output)
    wait_until(lambda: output.server.clients == 2)
    received: list[dict] = []
    reader = threading.Thread(target=lambda: received.extend(read_lines(good, 400)))
    reader.start()
    pad = "x" * 20_000
    for i in range(400):  # 8 MB: far more than the stuck client's socket buffers hold
        output.server.publish({"i": i, "pad": pad})
        time.sleep(0.002)
    reader.join(30.0)
    assert [line["i"] for line in received] == list(range(400))
    wait_until(lambda: output.server.clients == 1)
    assert output.server.dropped == 0
    for c in (stuck, good):
        c.close()
    output.close()


def test_beyond_loopback_the_stream_needs_a_token() -> None:
    with pytest.raises(PermissionError, match="set a token"):
        StreamOutput(RejectConfig(tcp_enabled=True, host="0.0.0.0", port=0))
    output = StreamOutput(RejectConfig(tcp_enabled=True, host="0.0.0.0", port=0, token="s3cret"))
    client = socket.create_connection(("127.0.0.1", output.server.port), timeout=5.0)
    client.sendall(b"s3cret\r\n")
    wait_until(lambda: output.server.clients == 1)
    output.submit(record(5, "NG"))
    assert read_lines(client, 1)[0]["frame_id"] == 5
    client.close()
    output.close()


def test_a_wrong_or_missing_token_gets_no_results_and_the_token_is_never_shown() -> None:
    errors: list[str] = []
    config = RejectConfig(tcp_enabled=True, port=0, token="s3cret", auth_timeout_s=0.5)
    output = StreamOutput(config, on_error=lambda where, exc: errors.append(str(exc)))
    wrong = connect(output, token="guess")
    silent = connect(output)
    rambling = connect(output)
    rambling.sendall(b"s3cret" * 400)  # no line end: not a token line
    right = connect(output, token="s3cret")
    wait_until(lambda: output.server.clients == 1)
    output.submit(record(6, "NG"))
    assert read_lines(right, 1)[0]["frame_id"] == 6
    assert all(closed_by_server(c) for c in (wrong, silent, rambling))
    assert output.server.rejected == 3 and output.server.clients == 1
    assert errors and all("s3cret" not in e for e in errors)
    assert "s3cret" not in repr(config) and "s3cret" not in str(config)
    for c in (wrong, silent, rambling, right):
        c.close()
    output.close()


class OutputCamera:
    """Stands in for GenICamSource.pulse_output; the node-map logic is tested in the camera layer."""

    name = "camera CAM-1"

    def __init__(self, has_output: bool) -> None:
        self.has_output = has_output
        self.pulses: list[tuple] = []

    def pulse_output(self, line: str, duration_s: float, user_output: str = "UserOutput1") -> None:
        if not self.has_output:
            raise FeatureError("CAM-1", "LineSelector", "this camera has no such feature")
        self.pulses.append((line, duration_s, user_output))


def test_ng_and_not_judged_pulse_the_configured_output_line() -> None:
    camera = OutputCamera(has_output=True)
    output = PulseOutput(RejectConfig(pulse_enabled=True, line="Line2", pulse_s=0.02), source=camera)
    for i, verdict in enumerate(["OK", "NG", "OK", "NG", "NOT_JUDGED"]):
        output.submit(record(i, verdict))
    wait_until(lambda: output.pulses == 3)
    output.close()
    assert camera.pulses == [("Line2", 0.02, "UserOutput1")] * 3


def test_camera_without_output_is_reported_once_and_not_retried() -> None:
    camera = OutputCamera(has_output=False)
    errors: list[tuple[str, BaseException]] = []
    output = PulseOutput(
        RejectConfig(pulse_enabled=True), source=camera, on_error=lambda w, e: errors.append((w, e))
    )
    for i in range(5):
        output.submit(record(i, "NG"))
    wait_until(lambda: output.pulse_unavailable != "")
    output.close()
    assert len(errors) == 1 and errors[0][0] == "reject output"
    assert "LineSelector" in output.pulse_unavailable and output.pulses == 0


def test_source_without_pulse_helper_says_why() -> None:
    class Folder:
        name = "folder /data/line1"

    output = PulseOutput(RejectConfig(pulse_enabled=True), source=Folder())
    assert output.pulse_unavailable == "folder /data/line1 has no digital output"
    output.close()
