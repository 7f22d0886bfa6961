"""The OPC UA server against a real asyncua client: the address space, Trigger with its part id coming back in the
result event, SelectRecipe, Start/Stop and the PLC state, security modes, and a server loop that never holds up
the station."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import threading
import time
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.sync import Client
from cryptography.x509.oid import ExtendedKeyUsageOID
from plant_helpers import free_port, wait_for

from app.plant.opcua_security import Login, check_password, hash_password
from app.plant.opcua_server import OpcUaConfig, OpcUaError
from app.recipes import CameraEntry, Recipe
from app.sources.base import SourceState, SourceStats
from app.sources.folder import FolderSource, FolderSourceConfig
from app.station import AcquisitionMode
from app.station.headless import open_station

NAMESPACE = "urn:draem-inspect"
STATION = {"State": ua.VariantType.String, "PartCounter": ua.VariantType.UInt64, "LastVerdict": ua.VariantType.String,
           "LastScore": ua.VariantType.Double, "LastPartId": ua.VariantType.String,
           "ModelVersion": ua.VariantType.String, "Recipe": ua.VariantType.String,
           "Heartbeat": ua.VariantType.UInt32}  # fmt: skip
METHODS = {"Trigger", "SelectRecipe", "Start", "Stop"}
PASSWORD = "s7-plc-secret"


def config(**changes) -> OpcUaConfig:
    base = {"endpoint": f"opc.tcp://127.0.0.1:{free_port()}", "logins": (Login("plc", hash_password(PASSWORD, 1000)),),
            "anonymous": True, "insecure": True}  # fmt: skip
    return OpcUaConfig(**{**base, **changes})


class Events:
    """An asyncua subscription handler that keeps every event."""

    def __init__(self) -> None:
        self.events: list = []

    def event_notification(self, event) -> None:
        self.events.append(event)


class Session:
    """A connected sync client and the station's nodes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.ns = client.get_namespace_index(NAMESPACE)
        self.station = client.nodes.objects.get_child(f"{self.ns}:Station")

    def value(self, name: str):
        return self.client.get_node(f"ns={self.ns};s=Station.{name}").read_value()

    def call(self, method: str, *args):
        return self.station.call_method(f"{self.ns}:{method}", *args)

    def subscribe(self, node=None) -> Events:
        handler = Events()
        sub = self.client.create_subscription(20, handler)
        event_type = self.client.nodes.base_event_type.get_child(f"{self.ns}:ResultEventType")
        sub.subscribe_events(node or self.station, event_type)
        return handler


@contextlib.contextmanager
def opened(url: str, client: Client | None = None):
    """A connected session; the client (and its thread) always ends."""
    client = client or Client(url, timeout=20)
    try:
        client.connect()
        yield Session(client)
    finally:
        close(client)


def close(client: Client) -> None:
    try:
        client.disconnect()
    except Exception:  # noqa: BLE001 - a client that never connected: its thread is stopped all the same
        pass


@pytest.fixture()
def server(plant):
    return plant.start_opcua(config())


@pytest.fixture()
def session(server):
    with opened(server.endpoint) as session:
        yield session


def software_mode(station) -> None:
    station.station.set_mode(AcquisitionMode.SOFTWARE)
    station.jobs.wait_idle(30)
    wait_for(lambda: station.station.cameras[0].source.slot.triggered, what="triggered mode")


def test_the_station_object_has_exactly_the_variables_and_methods_with_their_types(session: Session) -> None:
    children = {n.read_browse_name().Name: n for n in session.station.get_children()}
    assert set(children) == set(STATION) | METHODS | {"Cameras"}
    for name, kind in STATION.items():
        node = children[name]
        assert node.read_browse_name().NamespaceIndex == session.ns
        assert node.read_data_type_as_variant_type() == kind, name
        assert node.nodeid == ua.NodeId(f"Station.{name}", session.ns)  # a PLC addresses it without browsing
    assert session.value("State") == "Ready"  # free run: inspecting, every frame a part
    wait_for(lambda: session.value("PartCounter") > 0, 30, "free-run verdicts counted")
    assert session.value("LastVerdict") in ("OK", "NG") and math.isfinite(session.value("LastScore"))
    with pytest.raises(ua.UaStatusCodeError):  # clients read; only the station writes
        children["LastVerdict"].write_value(ua.Variant("OK", ua.VariantType.String))
    beat = session.value("Heartbeat")
    wait_for(lambda: session.value("Heartbeat") > beat, 10, "the heartbeat")


def test_a_triggered_part_id_comes_back_with_its_result(station, server, session: Session) -> None:
    software_mode(station)
    time.sleep(1.0)  # a free-run frame still in the model when the mode changed has its verdict by now
    counted = session.value("PartCounter")
    handler = session.subscribe()
    parts = lambda: [e for e in handler.events if e.TriggerNumber > 0]  # noqa: E731
    numbers = [session.call("Trigger", f"P-{i}") for i in range(3)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    wait_for(lambda: len(parts()) >= 3, what="three result events")
    time.sleep(0.5)
    assert [e.PartId for e in parts()] == ["P-0", "P-1", "P-2"]  # one event per part, no more
    assert [e.TriggerNumber for e in parts()] == numbers
    last = parts()[-1]
    camera = station.station.cameras[0].pipeline.camera_id
    assert last.Verdict in ("OK", "NG") and last.Camera == camera and last.ModelVersion == session.value("ModelVersion")
    assert 0.0 <= last.Score and last.Reason == ""
    assert session.value("LastPartId") == "P-2" and session.value("PartCounter") == counted + 3
    assert session.value("LastVerdict") == last.Verdict and session.value("LastScore") == pytest.approx(last.Score)
    camera_node = session.station.get_child([f"{session.ns}:Cameras", f"{session.ns}:{camera}"])
    assert camera_node.get_child(f"{session.ns}:LastPartId").read_value() == "P-2"
    camera_events = session.subscribe(camera_node)
    session.call("Trigger", "P-3")
    wait_for(lambda: len(camera_events.events) == 1 and len(parts()) == 4, what="camera and part events")
    assert camera_events.events[0].PartId == "P-3" and camera_events.events[0].Camera == camera


def test_state_start_stop_and_refused_commands(station, server, session: Session) -> None:
    with pytest.raises(ua.UaStatusCodeError, match="BadInvalidState"):  # free run: no triggers
        session.call("Trigger", "P-1")
    session.call("Stop")
    wait_for(lambda: session.value("State") == "Stopped", 10, "Stopped")
    session.call("Start")
    wait_for(lambda: session.value("State") == "Ready", 10, "Ready")
    with pytest.raises(ua.UaStatusCodeError, match="BadInvalidArgument"):
        session.call("Trigger", ua.Variant(7, ua.VariantType.Int32))
    with pytest.raises(ua.UaStatusCodeError, match="BadNotFound"):
        session.call("SelectRecipe", "no-such-product")


def test_select_recipe_switches_the_station(station, plant, server, session: Session, versions) -> None:
    plant.recipes.save(Recipe("B", (CameraEntry(0, model_version=versions[1]),)))
    assert session.call("SelectRecipe", "B") is None
    wait_for(lambda: session.value("Recipe") == "B", what="Recipe B")
    assert session.value("ModelVersion") == versions[1] and station.station.recipe == "B"
    wait_for(lambda: session.value("State") == "Ready", 10, "Ready after the switch")


class LosableFolder(FolderSource):
    """A real folder source whose link the test pulls (``lost``): its stats say RECONNECTING."""

    lost = False

    def stats(self) -> SourceStats:
        return SourceStats(state=SourceState.RECONNECTING, last_error="link down") if self.lost else super().stats()


def test_ready_drops_while_the_station_cannot_judge(frames: Path, tiny_model: Path, data_dir: Path) -> None:
    from app.plant.plant import Plant

    sources: list[LosableFolder] = []

    def factory(spec: str) -> LosableFolder:
        sources.append(LosableFolder(FolderSourceConfig(path=spec.removeprefix("folder:"))))
        return sources[-1]

    headless = open_station([f"folder:{frames}"], None, data_dir, device="cpu", source_factory=factory)
    plant = Plant(headless.station, data_dir=data_dir, run=headless.jobs, name="t")
    try:
        session_context = opened(plant.start_opcua(config()).endpoint)
        session = session_context.__enter__()
        wait_for(lambda: session.value("State") == "Error", 10, "Error without a model")
        headless.station.load_model(tiny_model)
        headless.jobs.wait_idle(30)
        wait_for(lambda: session.value("State") == "Ready", 10, "Ready with a model")
        sources[0].lost = True
        wait_for(lambda: (headless.station.poll(), session.value("State"))[1] == "Error", 10, "Error, camera lost")
        sources[0].lost = False
        wait_for(lambda: (headless.station.poll(), session.value("State"))[1] == "Ready", 10, "Ready when it is back")
        session_context.__exit__(None, None, None)
    finally:
        plant.close()
        headless.close()


def client_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "client.der", folder / "client.pem"
    asyncio.run(setup_self_signed_certificate(key, cert, "urn:test:plc", socket.gethostname(),
                                              [ExtendedKeyUsageOID.CLIENT_AUTH], {"organizationName": "test"}))  # fmt: skip
    return cert, key


def secure_client(url: str, folder: Path, mode: ua.MessageSecurityMode, user: str | None, password: str | None):
    cert, key = client_certificate(folder)
    client = Client(url, timeout=20)
    client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key), mode=mode)
    if user is not None:
        client.set_user(user)
        client.set_password(password)
    return client


def test_security_modes(plant, data_dir: Path, tmp_path: Path) -> None:
    server = plant.start_opcua(config(anonymous=False, insecure=False))
    pki = data_dir / "opcua"
    assert (pki / "server_cert.der").is_file() and (pki / "server_key.pem").stat().st_mode & 0o077 == 0
    probe = Client(server.endpoint, timeout=20)
    try:
        endpoints = probe.connect_and_get_server_endpoints()
    finally:
        close(probe)
    policies = {(e.SecurityPolicyUri.split("#")[-1], e.SecurityMode) for e in endpoints}
    assert policies == {("Basic256Sha256", ua.MessageSecurityMode.Sign),
                        ("Basic256Sha256", ua.MessageSecurityMode.SignAndEncrypt)}  # fmt: skip
    for mode in (ua.MessageSecurityMode.SignAndEncrypt, ua.MessageSecurityMode.Sign):
        with opened(server.endpoint, secure_client(server.endpoint, tmp_path, mode, "plc", PASSWORD)) as session:
            assert session.value("State") in ("Ready", "Busy")
    refused = [secure_client(server.endpoint, tmp_path, ua.MessageSecurityMode.SignAndEncrypt, "plc", "wrong"),
               secure_client(server.endpoint, tmp_path, ua.MessageSecurityMode.SignAndEncrypt, None, None),
               Client(server.endpoint, timeout=20)]  # wrong password, anonymous, unencrypted  # fmt: skip
    for client in refused:
        with pytest.raises(Exception), opened(server.endpoint, client):  # noqa: B017,PT011 - asyncua raises per case
            pass
    first = (pki / "server_cert.der").read_bytes()
    plant.start_opcua(config(anonymous=False))  # a restart keeps the certificate the PLC trusts
    assert (pki / "server_cert.der").read_bytes() == first


def test_bad_settings_are_one_line(plant) -> None:
    with pytest.raises(OpcUaError, match="nobody could log in"):
        plant.start_opcua(config(logins=(), anonymous=False))
    with pytest.raises(OpcUaError, match="expected opc.tcp://HOST:PORT"):
        plant.start_opcua(config(endpoint="http://127.0.0.1:4840"))
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(OpcUaError) as caught:
            plant.start_opcua(config(endpoint=f"opc.tcp://127.0.0.1:{taken.getsockname()[1]}"))
        assert "\n" not in str(caught.value) and str(taken.getsockname()[1]) in str(caught.value)
    finally:
        taken.close()
    assert check_password(PASSWORD, hash_password(PASSWORD, 1000)) and not check_password("x", "garbage")


def test_the_station_never_waits_for_the_server(station, plant) -> None:
    server = plant.start_opcua(config(queue_size=200))
    stuck = socket.create_connection(("127.0.0.1", server.port))  # a client that sends half a message, then nothing
    stuck.sendall(b"HELF")
    wait_for(lambda: station.station.latest() is not None and station.station.latest().record is not None, 30, "a record")
    record = station.station.latest().record
    held = threading.Event()
    server._loop.call_soon_threadsafe(lambda: (held.set(), time.sleep(3.0)))  # the server's loop is busy for 3 s
    assert held.wait(10)
    before = server.published
    for _ in range(server.config.queue_size + 500):  # the inspection hands over while the loop cannot take them
        server.submit(record)
    assert server.dropped >= 500  # bounded: the excess is counted, nothing waited
    wait_for(lambda: server.published >= before + server.config.queue_size - 50, 60, "the queue drained")
    with opened(server.endpoint) as session:  # the stuck client holds up nobody
        assert session.value("PartCounter") >= server.config.queue_size
    stuck.close()


def test_two_cameras_a_camera_event_each_and_one_part_event(frames: Path, tiny_model: Path, data_dir: Path,
                                                            tmp_path: Path) -> None:  # fmt: skip
    """With the multi-camera station: each camera's record goes to its camera object; the part's verdict (the
    station's ``submit_part``) is the Station's one event and counter step."""
    from app.pipeline.record import part_verdict
    from app.plant.plant import Plant
    from app.station.headless import RecordTally

    second = tmp_path / "side"
    second.mkdir()
    for image in frames.iterdir():
        (second / image.name).write_bytes(image.read_bytes())
    headless = open_station([f"folder:{frames}", f"folder:{second}"], tiny_model, data_dir, device="cpu")
    plant = Plant(headless.station, data_dir=data_dir, run=headless.jobs, name="t")
    tally = RecordTally(keep=100_000)
    try:
        server = plant.start_opcua(config())
        software_mode(headless)
        wait_for(lambda: all(c.source.slot.triggered for c in headless.station.cameras), what="both triggered")
        time.sleep(1.0)
        headless.station.add_output(tally)
        with opened(server.endpoint) as session:
            counted = session.value("PartCounter")
            station_events = session.subscribe()
            number = session.call("Trigger", "P-9")
            wait_for(lambda: sum(r.trigger == number for r in tally.kept) == 2, what="both cameras' verdicts")
            time.sleep(0.5)
            cameras = session.station.get_child(f"{session.ns}:Cameras").get_children()
            ids = [c.pipeline.camera_id for c in headless.station.cameras]
            assert sorted(n.read_browse_name().Name for n in cameras) == sorted(ids) and len(set(ids)) == 2
            assert all(n.get_child(f"{session.ns}:LastPartId").read_value() == "P-9" for n in cameras)
            records = [r for r in tally.kept if r.trigger == number]
            wait_for(lambda: len(station_events.events) == 1, what="the part's event (the station's part verdict)")
            time.sleep(0.5)
            assert len(station_events.events) == 1  # one event for the part, none per camera record
            event = station_events.events[0]
            assert event.PartId == "P-9" and event.Camera == ""
            assert event.Verdict == part_verdict([r.verdict for r in records])
            assert session.value("PartCounter") == counted + 1 and session.value("LastVerdict") == event.Verdict
    finally:
        plant.close()
        headless.close()
