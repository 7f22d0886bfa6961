"""The station's MQTT client (``paho-mqtt`` 2.x): every verdict to a broker, a retained status with a last will,
and commands from the plant.

Topics, with ``<station>`` a setting (default: the host name)::

    draem-inspect/<station>/result   one JSON message per camera verdict (QoS 1)
    draem-inspect/<station>/part     one per part of a station with several cameras (triggered; QoS 1)
    draem-inspect/<station>/status   retained: {"status": "online", "state": "Ready", ...}; the last will, sent by
                                     the broker when the station vanishes, is {"status": "offline", ...}
    draem-inspect/<station>/cmd/#    subscribed: cmd/recipe (payload: the name), cmd/start, cmd/stop,
                                     cmd/trigger (payload: the part id)
    draem-inspect/<station>/ack      one JSON answer per command

A broker that is down or goes away never blocks inspection: :meth:`MqttOutput.submit` only appends to a bounded
buffer (the oldest message goes when it is full, counted), a thread of its own hands messages to paho while it is
connected, and paho reconnects on its own. :meth:`MqttOutput.status` says how many wait and were dropped.
"""

from __future__ import annotations

import collections
import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from app.pipeline.record import InspectionRecord, PartRecord
from app.plant.link import PlantLink, iso_time, part_payload, result_payload
from draem_core.errors import DraemError, one_line

log = logging.getLogger(__name__)
PREFIX = "draem-inspect"  # first topic level of every station
PORTS = {"mqtt": 1883, "mqtts": 8883}  # default broker ports per scheme


class MqttError(DraemError):
    """The MQTT settings are wrong (names the URL or setting and the reason; the password is never shown)."""

    def __init__(self, what: str, reason: str) -> None:
        self.what, self.reason = what, reason
        super().__init__(f"MQTT {what}: {reason}")


@dataclass(frozen=True)
class MqttConfig:
    """Where the broker is and how the station appears on it."""

    url: str  # mqtt://[user:password@]HOST[:PORT] or mqtts://… (TLS)
    station: str = ""  # the station's topic level; "" = this computer's host name
    ca_file: Path | None = None  # mqtts: the broker's CA certificate; None = the system's trusted CAs
    buffer_size: int = 10_000  # messages held while the broker is away; beyond that the oldest are dropped
    keepalive_s: int = 10  # the broker sends the last will this long (x1.5) after the station went silent
    status_every_s: float = 0.5  # how often the state is compared and a changed status published


@dataclass(frozen=True)
class BrokerAddress:
    """A parsed broker URL."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    def __str__(self) -> str:  # never with the password
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker(url: str) -> BrokerAddress:
    """The broker of ``mqtt://[user:pass@]HOST[:PORT]`` / ``mqtts://…``.

    Raises:
        MqttError: not such a URL (the message leaves the password out).
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{port}" if port else "")
    if parts.scheme not in PORTS or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        raise MqttError(shown, "expected mqtt://[user:password@]HOST[:PORT] or mqtts://…")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return BrokerAddress(parts.hostname, port or PORTS[parts.scheme], parts.scheme == "mqtts", user, password)


def station_name(name: str) -> str:
    """The station's topic level: ``name``, or the host name when empty.

    Raises:
        MqttError: it contains ``/``, ``+``, ``#`` or a control character.
    """
    name = name.strip() or socket.gethostname()
    if not name or any(c in name for c in "/+#") or any(ord(c) < 32 for c in name):
        raise MqttError(f"station name {name!r}", "must not be empty or contain '/', '+', '#' or control characters")
    return name


class MqttOutput:
    """The MQTT client of one station; also a station output (``submit``, ``submit_part``, ``close``).

    Args:
        link: The station as the plant sees it (its name is the station's topic level).
        config: Broker and buffer settings.
        on_error: The app-level error sink ``(where, exception or text)``.
    """

    label = "MQTT"

    def __init__(self, link: PlantLink, config: MqttConfig, *, on_error=None) -> None:
        self.broker = parse_broker(config.url)
        self.link, self.config = link, config
        self.name = station_name(link.name or config.station)
        self.topic = f"{PREFIX}/{self.name}"
        self._on_error = on_error
        self._buffer: collections.deque[tuple[str, bytes]] = collections.deque()
        self._buffer_lock = threading.Lock()  # held for deque operations only, never while sending
        self.dropped = 0  # messages dropped because the buffer was full
        self.handed = 0  # messages handed to paho (sent, or kept by it for the next connection)
        self.connected = False
        self.last_problem = ""  # why the broker is not connected ("" while it is)
        self._wake, self._closing = threading.Event(), threading.Event()
        self._last_status: tuple | None = None
        self.client = self._make_client()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)

    def _make_client(self) -> mqtt.Client:
        broker = self.broker
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{PREFIX}-{self.name}",
                             protocol=mqtt.MQTTv311, clean_session=True)  # fmt: skip
        client.will_set(f"{self.topic}/status", self._status_payload("offline"), qos=1, retain=True)
        if broker.username is not None:
            client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            ca = self.config.ca_file
            if ca is not None and not Path(ca).is_file():
                raise MqttError(str(ca), "CA certificate file does not exist")
            client.tls_set(ca_certs=str(ca) if ca is not None else None)
        client.reconnect_delay_set(1, 30)
        client.max_queued_messages_set(self.config.buffer_size)
        client.on_connect, client.on_disconnect, client.on_message = self._connected, self._disconnected, self._message
        return client

    def start(self) -> MqttOutput:
        """Connect in the background (a broker that is down is retried; nothing here waits for it)."""
        self.last_problem = "connecting …"
        self.client.connect_async(self.broker.host, self.broker.port, self.config.keepalive_s)
        self.client.loop_start()
        self._thread.start()
        return self

    def status(self) -> str:
        """One line for the operator: connected or why not, messages waiting and dropped."""
        waiting, dropped = len(self._buffer), f", {self.dropped} dropped" if self.dropped else ""
        state = "connected" if self.connected else f"not connected ({self.last_problem})"
        return f"MQTT {self.broker}: {state}, {waiting} waiting{dropped}"

    # --- the station's side (any thread, never blocks) ---------------------------------------------

    def submit(self, record: InspectionRecord) -> None:
        """Queue one camera verdict's message."""
        self._put(f"{self.topic}/result", result_payload(record, self.name))

    def submit_part(self, part: PartRecord) -> None:
        """Queue a part verdict's message (parts of several cameras; with one camera the result is the part)."""
        if len(part.cameras) > 1:
            self._put(f"{self.topic}/part", part_payload(part, self.name))

    def _put(self, topic: str, doc: dict) -> None:
        message = (topic, json.dumps(doc, separators=(",", ":")).encode())
        with self._buffer_lock:
            if len(self._buffer) >= self.config.buffer_size:
                self._buffer.popleft()
                self.dropped += 1
            self._buffer.append(message)
        self._wake.set()

    def close(self, timeout: float = 2.0) -> None:
        """Say offline (retained), disconnect and end the threads."""
        self._closing.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self.connected:
            info = self.client.publish(f"{self.topic}/status", self._status_payload("offline"), qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):  # the connection went meanwhile: the will says it instead
                pass
        self.client.disconnect()
        self.client.loop_stop()

    # --- the publisher thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while not self._closing.is_set():
            self._wake.wait(self.config.status_every_s)
            self._wake.clear()
            try:
                self._hand_over()
                self._publish_status()
            except Exception as exc:  # noqa: BLE001 - this thread never dies
                self._report(exc)
                self._closing.wait(1.0)
        self._hand_over()  # what the station judged before it closed

    def _hand_over(self) -> None:
        while self.connected:
            with self._buffer_lock:
                if not self._buffer:
                    return
                message = self._buffer[0]
            rc = self.client.publish(message[0], message[1], qos=1).rc
            if rc == mqtt.MQTT_ERR_QUEUE_SIZE:  # paho holds as many as it may: wait for acknowledgements
                self._closing.wait(0.05)
                return
            with self._buffer_lock:  # sent, or (connection just lost) kept by paho for the next connection
                if self._buffer and self._buffer[0] is message:  # (unless a full buffer dropped it meanwhile)
                    self._buffer.popleft()
            self.handed += 1

    def _publish_status(self, force: bool = False) -> None:
        link = self.link
        now = (link.state(), link.recipe(), link.model_version())
        if self.connected and (force or now != self._last_status):
            self._last_status = now
            self.client.publish(f"{self.topic}/status", self._status_payload("online"), qos=1, retain=True)

    def _status_payload(self, status: str) -> bytes:
        doc = {"status": status, "station": self.name, "time": iso_time(time.time())}
        if status == "online":
            link = self.link
            doc.update(state=link.state(), recipe=link.recipe(), model_version=link.model_version(),
                       waiting=len(self._buffer), dropped=self.dropped)  # fmt: skip
        return json.dumps(doc, separators=(",", ":")).encode()

    # --- paho's callbacks (its network thread) -----------------------------------------------------

    def _connected(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_problem = f"the broker refused: {reason_code}"
            self._report(MqttError(str(self.broker), self.last_problem))
            return
        self.connected, self.last_problem = True, ""
        client.subscribe(f"{self.topic}/cmd/#", qos=1)
        self._last_status = None  # the status is published again on every connection
        self._wake.set()

    def _disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected
        self.connected = False
        if not self._closing.is_set():
            self.last_problem = f"connection lost: {reason_code}" if was else f"cannot connect: {reason_code}"
            if was:
                self._report(MqttError(str(self.broker), self.last_problem))

    def _message(self, client, userdata, message) -> None:
        command = message.topic.removeprefix(f"{self.topic}/cmd/")
        text = message.payload.decode("utf-8", "replace").strip()
        try:
            answer = self._command(command, text)
            ok = True
        except DraemError as exc:
            answer, ok = one_line(exc), False
            self._report(exc)
        self._ack(command, text, ok, answer)

    def _switched(self, name: str, recipe, error) -> None:
        """The second answer to cmd/recipe: the recipe is in force, or why not."""
        ok = recipe is not None
        message = f"recipe {name} in force" if ok else one_line(error) if error else "superseded by a newer request"
        self._ack("recipe", name, ok, message)

    def _ack(self, command: str, payload: str, ok: bool, message: str) -> None:
        doc = {"command": command, "payload": payload, "ok": ok, "message": message, "time": iso_time(time.time())}
        self.client.publish(f"{self.topic}/ack", json.dumps(doc, separators=(",", ":")), qos=1)

    def _command(self, command: str, text: str) -> str:
        link = self.link
        if command == "recipe":
            name = _recipe_name(text)
            link.select_recipe(name, lambda recipe, error: self._switched(name, recipe, error))
            return f"switching to recipe {name}"
        if command == "start":
            link.start()
            return "inspecting"
        if command == "stop":
            link.stop()
            return "stopped"
        if command == "trigger":
            return f"trigger {link.trigger(text)}"
        raise MqttError(f"command {command!r}", "unknown; use cmd/recipe, cmd/start, cmd/stop or cmd/trigger")

    def _report(self, error: object) -> None:
        if self._on_error is not None:
            self._on_error("MQTT", error)
        else:
            log.error("MQTT: %s", error)


def _recipe_name(text: str) -> str:
    """A recipe name from a command payload: the plain name, or JSON ``{"name": ...}``."""
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise MqttError("cmd/recipe", f"payload is not valid JSON ({exc})") from exc
        name = doc.get("name") if isinstance(doc, dict) else None
        if not isinstance(name, str):
            raise MqttError("cmd/recipe", 'JSON payload needs {"name": "<recipe>"}')
        return name
    return text
