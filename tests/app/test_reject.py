"""Reject outputs: JSON lines over local TCP, and the camera output pulse on every rejected part."""

from __future__ import annotations

import json
import socket
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
