"""Verdict-to-message latency of the plant interfaces under the demo line; prints JSON.

    nice -n 10 python bench/plant_latency.py --seconds 60 --device cpu

A headless station inspects the demo line (free run, the bundled demo model) with its OPC UA server and its MQTT
client on at once: a real mosquitto broker on a free loopback port and, on the same machine, a paho subscriber
and an asyncua client subscribed to the Station's result events. Latency is the receive time minus the verdict's
time (``InspectionRecord.time``, the wall clock when the verdict was made; both ends read the same clock):
for MQTT the ``timestamp`` field of the result message, for OPC UA the event's ``Time``. OPC UA's latency includes
the subscription's publishing interval (``--publish-ms``), which a PLC sets itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's entry point does
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(values: list[float]) -> dict:
    import numpy as np

    if not values:
        return {"n": 0}
    ms = np.asarray(values) * 1e3
    return {"n": len(values), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(float(ms.max()), 2)}  # fmt: skip


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("mosquitto did not start")


def mqtt_listener(port: int, station: str, latencies: list[float]):
    import paho.mqtt.client as mqtt

    def on_message(client, userdata, message) -> None:
        arrived = time.time()
        latencies.append(arrived - json.loads(message.payload)["timestamp"])

    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-subscriber")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"draem-inspect/{station}/result", qos=1)
    client.on_subscribe = lambda *args: ready.set()
    client.on_message = on_message
    client.connect("127.0.0.1", port, 30)
    client.loop_start()
    ready.wait(20)
    return client


class EventLatency:
    """asyncua subscription handler: receive time minus the event's Time."""

    def __init__(self, latencies: list[float]) -> None:
        self.latencies = latencies

    def event_notification(self, event) -> None:
        self.latencies.append(time.time() - event.Time.timestamp())


def opcua_listener(endpoint: str, publish_ms: float, latencies: list[float]):
    from asyncua.sync import Client

    client = Client(endpoint, timeout=30)
    client.connect()
    ns = client.get_namespace_index("urn:draem-inspect")
    station = client.nodes.objects.get_child(f"{ns}:Station")
    event_type = client.nodes.base_event_type.get_child(f"{ns}:ResultEventType")
    client.create_subscription(publish_ms, EventLatency(latencies)).subscribe_events(station, event_type)
    return client


def run(args: argparse.Namespace) -> dict:
    from app.paths import bundled_model
    from app.plant.mqtt_output import MqttConfig
    from app.plant.opcua_server import OpcUaConfig
    from app.plant.plant import Plant
    from app.station.headless import open_station

    folder = Path(tempfile.mkdtemp(prefix="plant-bench-"))
    broker, port = start_broker(folder)
    headless = open_station(["demo"], bundled_model(), folder / "data", device=args.device)
    plant = Plant(headless.station, data_dir=folder / "data", run=headless.jobs, name="bench")
    mqtt_ms: list[float] = []
    opcua_ms: list[float] = []
    try:
        server = plant.start_opcua(OpcUaConfig(endpoint=f"opc.tcp://127.0.0.1:{free_port()}", anonymous=True,
                                               insecure=True))  # fmt: skip
        plant.start_mqtt(MqttConfig(f"mqtt://127.0.0.1:{port}", station="bench"))
        subscriber = mqtt_listener(port, "bench", mqtt_ms)
        client = opcua_listener(server.endpoint, args.publish_ms, opcua_ms)
        time.sleep(2.0)  # connections settle
        mqtt_ms.clear()
        opcua_ms.clear()
        headless.tally.reset()
        started = time.monotonic()
        time.sleep(args.seconds)
        elapsed = time.monotonic() - started
        verdicts = headless.tally.total()
        time.sleep(2.0)  # the last messages arrive
        client.disconnect()
        subscriber.disconnect()
        subscriber.loop_stop()
    finally:
        plant.close()
        headless.close()
        broker.terminate()
        broker.wait(10)
    return {"seconds": round(elapsed, 1), "device": args.device, "verdicts": verdicts,
            "verdicts_per_s": round(verdicts / elapsed, 2), "opcua_publishing_interval_ms": args.publish_ms,
            "mqtt": percentiles(mqtt_ms), "opcua": percentiles(opcua_ms)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the demo line runs (default 60)")
    parser.add_argument("--device", default="cpu", help="where the demo model runs (default cpu)")
    parser.add_argument("--publish-ms", type=float, default=10.0, help="OPC UA publishing interval (default 10)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    doc = run(args)
    text = json.dumps(doc, indent=2)
    if args.json is not None:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
