"""The MQTT client against a real mosquitto broker: exactly one message per verdict, the retained status and its last
will when the station process is killed, commands, a broker that is down or goes away, TLS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from plant_helpers import Broker, broker_conf, free_port, wait_for

from app.pipeline.record import InspectionRecord
from app.plant.mqtt_output import MqttConfig, MqttError, parse_broker, station_name
from app.recipes import CameraEntry, Recipe


class Subscriber:
    """A paho client that keeps every message of the topics it follows (QoS 1), per topic suffix."""

    def __init__(self, port: int, topic: str, *, tls_ca: Path | None = None, session: str = "") -> None:
        self.messages: list[tuple[str, dict | str, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=session or f"test-{os.getpid()}-{id(self)}",
                                  clean_session=not session)  # fmt: skip
        if tls_ca is not None:
            self.client.tls_set(ca_certs=str(tls_ca))
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port, 10)
        self.client.loop_start()
        assert self.subscribed.wait(20), "subscriber not subscribed"

    def _message(self, client, userdata, message) -> None:
        text = message.payload.decode()
        try:
            body: dict | str = json.loads(text)
        except ValueError:
            body = text
        with self._lock:
            self.messages.append((message.topic.rsplit("/", 1)[-1], body, bool(message.retain)))

    def of(self, kind: str) -> list:
        with self._lock:
            return [body for topic, body, _ in self.messages if topic == kind]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Collector:
    label = "collector"

    def __init__(self) -> None:
        self.records: list[InspectionRecord] = []

    def submit(self, record: InspectionRecord) -> None:
        self.records.append(record)

    def close(self) -> None:
        pass


def settle(count, timeout: float = 30.0, quiet_s: float = 1.0) -> int:
    """Wait until ``count()`` has not changed for ``quiet_s``; return it."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return now
    raise AssertionError("the count never settled")


def test_exactly_one_message_per_verdict_and_a_retained_status(station, plant, broker: Broker) -> None:
    s = station.station
    s.set_inspecting(False)
    client = plant.start_mqtt(MqttConfig(broker.url, station="line1"))
    sub = Subscriber(broker.port, "draem-inspect/line1/#")
    collector = Collector()
    s.add_output(collector)
    wait_for(lambda: client.connected, 20, "connected")
    s.set_inspecting(True)
    wait_for(lambda: len(collector.records) >= 12, 60, "twelve verdicts")
    s.set_inspecting(False)
    judged = settle(lambda: len(collector.records))
    wait_for(lambda: len(sub.of("result")) >= judged, 30, "every verdict's message")
    settle(lambda: len(sub.of("result")))
    results = sub.of("result")
    assert len(results) == judged  # exactly one per verdict: none lost, none twice
    assert [(m["frame_id"], m["timestamp"]) for m in results] == [(r.frame_id, r.time) for r in collector.records]
    first = results[0]
    assert set(first) >= {"verdict", "score", "part_id", "camera", "recipe", "model_version", "time", "reason"}
    assert first["station"] == "line1" and first["camera"] == collector.records[0].camera
    assert first["verdict"] in ("OK", "NG") and first["time"].endswith("Z")
    late = Subscriber(broker.port, "draem-inspect/line1/status")  # a subscriber that comes later
    wait_for(lambda: late.of("status"), 10, "the retained status")
    status = late.of("status")[-1]
    assert status["status"] == "online" and status["state"] == "Stopped" and status["station"] == "line1"
    assert late.messages[-1][2]  # retained
    late.close()
    sub.close()


def test_commands_stop_start_trigger_and_switch_recipe(station, plant, broker: Broker, versions) -> None:
    plant.recipes.save(Recipe("B", (CameraEntry(0, model_version=versions[1]),)))
    plant.start_mqtt(MqttConfig(broker.url, station="line2"))
    sub = Subscriber(broker.port, "draem-inspect/line2/#")
    wait_for(lambda: plant.mqtt.connected, 20, "connected")
    sender = sub.client

    def command(name: str, payload: str = "", acks: int = 1) -> list[dict]:
        before = len(sub.of("ack"))
        sender.publish(f"draem-inspect/line2/cmd/{name}", payload, qos=1)
        wait_for(lambda: len(sub.of("ack")) >= before + acks, 60, f"the answer to {name}")
        return sub.of("ack")[before:]

    assert command("stop")[0]["ok"] and not station.station.cameras[0].pipeline.inspecting
    wait_for(lambda: any(m.get("state") == "Stopped" for m in sub.of("status")), 10, "status Stopped")
    assert command("start")[0]["ok"]
    refused = command("trigger", "P-1")[0]
    assert not refused["ok"] and "free run" in refused["message"]
    answers = command("recipe", json.dumps({"name": "B"}), acks=2)
    assert [a["ok"] for a in answers] == [True, True] and answers[1]["message"] == "recipe B in force"
    assert station.station.recipe == "B"
    wait_for(lambda: any(m.get("recipe") == "B" for m in sub.of("status")), 10, "status names recipe B")
    assert not command("recipe", "no-such")[0]["ok"]
    unknown = command("explode")[0]
    assert not unknown["ok"] and "unknown" in unknown["message"]
    sub.close()


def test_a_broker_that_is_down_or_goes_away_never_blocks_inspection(station, plant, tmp_path: Path) -> None:
    port = free_port()
    broker = Broker(port, broker_conf(tmp_path / "m.conf", port, f"persistence_location {tmp_path}/\n",
                                      persistence=True))  # fmt: skip
    client = plant.start_mqtt(MqttConfig(f"mqtt://127.0.0.1:{port}", station="line3", buffer_size=50))
    record = next(iter(_records(station, 1)))
    for _ in range(10_000):  # the broker is down: every call returns, the buffer keeps the newest 50
        client.submit(record)
    assert not client.connected and client.dropped >= 10_000 - 50 and "not connected" in client.status()
    assert "50 waiting" in client.status()
    broker.start()
    sub = Subscriber(port, "draem-inspect/line3/result", session="collector-line3")  # a persistent session
    wait_for(lambda: client.connected, 60, "reconnected")
    wait_for(lambda: len(sub.of("result")) >= 50, 60, "the backlog")
    broker.stop()  # the broker goes away while the station runs
    wait_for(lambda: not client.connected, 30, "disconnect noticed")
    assert "not connected" in client.status()
    received = len(sub.of("result"))
    mark = client.dropped + client.handed + len(client._buffer)
    wait_for(lambda: client.dropped + client.handed + len(client._buffer) > mark + 5, 30, "verdicts while away")
    broker.start()
    wait_for(lambda: client.connected, 60, "reconnected again")
    wait_for(lambda: len(sub.of("result")) > received, 60, "verdicts after the broker came back")
    sub.close()
    broker.stop()


def _records(station, count: int) -> list[InspectionRecord]:
    collector = Collector()
    station.station.add_output(collector)
    wait_for(lambda: len(collector.records) >= count, 60, "records")
    station.station.remove_output(collector)
    return collector.records[:count]


@pytest.mark.slow
def test_the_last_will_says_offline_when_the_station_process_is_killed(frames: Path, tiny_model: Path, data_dir: Path,
                                                                       broker: Broker) -> None:  # fmt: skip
    sub = Subscriber(broker.port, "draem-inspect/killed/#")
    env = {**os.environ, "DRAEM_INSPECT_HOME": str(data_dir), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", "--source", f"folder:{frames}", "--model",
                             str(tiny_model), "--device", "cpu", "--mqtt", broker.url, "--station", "killed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)  # fmt: skip
    try:
        wait_for(lambda: proc.poll() is None and len(sub.of("result")) >= 3, 180, "verdicts from the station process")
        assert sub.of("status")[0]["status"] == "online"
        os.kill(proc.pid, signal.SIGKILL)  # no goodbye: only the broker can say it
        proc.wait(30)
        wait_for(lambda: sub.of("status")[-1]["status"] == "offline", 30, "the last will")
        assert sub.of("status")[-1]["station"] == "killed"
        late = Subscriber(broker.port, "draem-inspect/killed/status")
        wait_for(lambda: late.of("status"), 10, "the retained will")
        assert late.of("status")[-1]["status"] == "offline"
        late.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        sub.close()


def test_tls_with_the_brokers_ca(station, plant, tmp_path: Path) -> None:
    from tls_helpers import make_ca_and_server

    ca, cert, key = make_ca_and_server(tmp_path)
    port = free_port()
    extra = f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
    broker = Broker(port, broker_conf(tmp_path / "tls.conf", port, extra)).start()
    try:
        sub = Subscriber(port, "draem-inspect/secure/result", tls_ca=ca)
        client = plant.start_mqtt(MqttConfig(f"mqtts://127.0.0.1:{port}", station="secure", ca_file=ca))
        wait_for(lambda: len(sub.of("result")) >= 2, 60, "results over TLS")
        assert client.connected and sub.of("result")[0]["station"] == "secure"
        plant.stop_mqtt()
        untrusted = plant.start_mqtt(MqttConfig(f"mqtts://127.0.0.1:{port}", station="secure2"))  # system CAs only
        time.sleep(3)
        assert not untrusted.connected and "not connected" in untrusted.status()
        with pytest.raises(MqttError, match="does not exist"):
            plant.start_mqtt(MqttConfig(f"mqtts://127.0.0.1:{port}", ca_file=tmp_path / "nowhere.pem"))
        sub.close()
    finally:
        broker.stop()


def test_bad_urls_and_names_are_one_line_without_the_password() -> None:
    assert parse_broker("mqtt://u:p%40ss@broker:1884").password == "p@ss"
    assert parse_broker("mqtts://broker").port == 8883 and parse_broker("mqtt://broker").port == 1883
    for url in ("http://broker:1883", "mqtt://user:secret@broker:99999", "mqtt://", "mqtt://broker:1883/topic"):
        with pytest.raises(MqttError) as caught:
            parse_broker(url)
        assert "secret" not in str(caught.value) and "\n" not in str(caught.value)
    for name in ("a/b", "x+", "#", "tab\there"):
        with pytest.raises(MqttError, match="must not be empty"):
            station_name(name)
    assert station_name("") and station_name(" line-7 ") == "line-7"


def test_a_part_of_several_cameras_is_one_message_on_the_part_topic(station, plant, broker: Broker) -> None:
    import dataclasses

    from app.pipeline.record import PartRecord

    client = plant.start_mqtt(MqttConfig(broker.url, station="line4"))
    sub = Subscriber(broker.port, "draem-inspect/line4/part")
    wait_for(lambda: client.connected, 20, "connected")
    top = _records(station, 1)[0]
    side = dataclasses.replace(top, camera="side", verdict="NOT_JUDGED", score=None, normalized=None,
                               reason="no frame after the trigger")  # fmt: skip
    client.submit_part(PartRecord(side.time, 7, "P-7", "NOT_JUDGED", "housing-A", (top,)))  # one camera: no message
    client.submit_part(PartRecord(side.time, 7, "P-7", "NOT_JUDGED", "housing-A", (top, side)))
    wait_for(lambda: sub.of("part"), 20, "the part message")
    time.sleep(0.5)
    (message,) = sub.of("part")
    assert message["verdict"] == "NOT_JUDGED" and message["part_id"] == "P-7" and message["recipe"] == "housing-A"
    assert [c["camera"] for c in message["cameras"]] == [top.camera, "side"]
    assert message["cameras"][1]["reason"] == "no frame after the trigger" and message["cameras"][1]["score"] is None
    sub.close()
