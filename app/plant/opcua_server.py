"""The station's OPC UA server (``asyncua``), on a thread and event loop of its own.

Off by default; ``draem-inspect run --opcua opc.tcp://HOST:PORT`` or the window's Plant panel turns it on. The
inspection hands records over with :meth:`OpcUaServer.submit` (a bounded queue and a wake-up of the loop: it never
waits, whatever the clients do); the loop writes them into the address space (:mod:`app.plant.opcua_model`), fires
the result events, and keeps State, ModelVersion and Recipe current. A slow or stuck client only slows its own
connection. Security: Basic256Sha256 (sign, sign & encrypt) with a self-signed certificate made at the first
start; user name and password; anonymous sessions and the unsecured policy only when configured.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from asyncua import Server, ua
from asyncua.crypto.permission_rules import SimpleRoleRuleset

from app.pipeline.record import InspectionRecord, PartRecord
from app.plant.link import PlantError, PlantLink
from app.plant.opcua_model import StationNodes
from app.plant.opcua_security import Login, StationUsers, ensure_certificate
from draem_core.errors import DraemError, one_line

log = logging.getLogger(__name__)
DEFAULT_ENDPOINT = "opc.tcp://127.0.0.1:4840"  # loopback: the network sees nothing until the engineer says so
HEARTBEAT_WRAP = 1 << 32  # Heartbeat is a UInt32


class OpcUaError(DraemError):
    """The OPC UA server cannot be configured or started (names the endpoint and the reason)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint, self.reason = endpoint, reason
        super().__init__(f"OPC UA server {endpoint}: {reason}")


@dataclass(frozen=True)
class OpcUaConfig:
    """How the server listens and whom it lets in."""

    endpoint: str = DEFAULT_ENDPOINT  # opc.tcp://HOST:PORT; HOST is the interface (0.0.0.0: every interface)
    logins: tuple[Login, ...] = ()  # users who may log in (name and password hash)
    anonymous: bool = False  # also let clients in without a user
    insecure: bool = False  # also offer the unsigned, unencrypted policy (None)
    pki_dir: Path | None = None  # the server's certificate and key; None: <data folder>/opcua
    queue_size: int = 10_000  # verdicts waiting for the server's loop; beyond that they are dropped and counted
    poll_s: float = 0.1  # how often State, ModelVersion and Recipe are brought up to date
    heartbeat_s: float = 1.0  # Heartbeat period
    start_timeout_s: float = 60.0  # longest wait for the server to listen (the first start makes a certificate)


def parse_endpoint(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``opc.tcp://HOST:PORT`` endpoint.

    Raises:
        OpcUaError: not such an endpoint.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "opc.tcp" or not parts.hostname or port is None or parts.username is not None:
        raise OpcUaError(url, "expected opc.tcp://HOST:PORT (e.g. opc.tcp://127.0.0.1:4840)")
    return parts.hostname, port


class OpcUaServer:
    """The OPC UA server of one station; also a station output (``submit``, ``submit_part``, ``close``).

    Args:
        link: The station as the plant sees it.
        config: Endpoint, users, security.
        data_dir: The data folder (the certificate goes to ``<data_dir>/opcua`` unless the config says otherwise).
        on_error: The app-level error sink ``(where, exception)``.
    """

    label = "OPC UA"

    def __init__(self, link: PlantLink, config: OpcUaConfig, *, data_dir: Path, on_error=None) -> None:
        self.host, self.port = parse_endpoint(config.endpoint)
        if not config.logins and not config.anonymous:
            raise OpcUaError(config.endpoint, "no user is configured and anonymous access is off: nobody could log in")
        self.link, self.config = link, config
        self.pki_dir = config.pki_dir or Path(data_dir) / "opcua"
        self._on_error = on_error
        self._queue: collections.deque[tuple] = collections.deque()
        self.dropped = 0  # verdicts not queued: the loop was that far behind
        self.published = 0  # verdicts written into the address space
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake, self._stop = asyncio.Event(), asyncio.Event()
        self._listening = threading.Event()
        self._failure: BaseException | None = None
        self._server: Server | None = None
        self._thread = threading.Thread(target=self._main, name="opcua-server", daemon=True)

    @property
    def endpoint(self) -> str:
        """The URL clients connect to (the port the server got, when 0 was asked for)."""
        return f"opc.tcp://{self.host}:{self.port}"

    def start(self) -> OpcUaServer:
        """Start the server and wait until it listens (blocks: not on the GUI thread).

        Raises:
            OpcUaError: it could not start (e.g. the port is taken), with the reason.
        """
        self._thread.start()
        if not self._listening.wait(self.config.start_timeout_s):
            self.close()
            raise OpcUaError(self.config.endpoint, f"did not start within {self.config.start_timeout_s:g} s")
        if self._failure is not None:
            raise OpcUaError(self.config.endpoint, one_line(self._failure) or type(self._failure).__name__)
        return self

    def status(self) -> str:
        """One line for the operator: where it listens, clients, verdicts dropped."""
        server = self._server
        if not self._thread.is_alive() or server is None:
            return f"OPC UA: stopped{f' ({one_line(self._failure)})' if self._failure else ''}"
        clients = len(server.iserver.asyncio_transports)
        dropped = f", {self.dropped} verdicts dropped" if self.dropped else ""
        return f"OPC UA: {self.endpoint}, {clients} client{'s' if clients != 1 else ''}{dropped}"

    # --- the station's side (any thread, never blocks) ---------------------------------------------

    def submit(self, record: InspectionRecord) -> None:
        """A camera's verdict (also the part's verdict with one camera, or in free run)."""
        self._put(("record", record, self.link.is_part(record)))

    def submit_part(self, part: PartRecord) -> None:
        """A part's verdict across the cameras (a one-camera part is already shown by its record)."""
        if len(part.cameras) > 1:
            self._put(("part", part, True))

    def _put(self, item: tuple) -> None:
        if len(self._queue) >= self.config.queue_size:
            self.dropped += 1
            return
        self._queue.append(item)
        self._call(self._wake.set)

    def _call(self, fn) -> None:
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(fn)
            except RuntimeError:  # the loop has closed: the server is gone
                pass

    def close(self, timeout: float = 5.0) -> None:
        """Stop the server (clients are disconnected) and end its thread."""
        self._call(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- the server's loop -------------------------------------------------------------------------

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported through start() or the error sink
            self._failure = exc
            if self._listening.is_set():
                self._report(exc)
        finally:
            self._listening.set()
            self._loop = None
            loop.close()

    async def _serve(self) -> None:
        server = await self._make_server()
        nodes = await StationNodes.build(server, self._handlers())
        await self._show_state(nodes)  # the first client reads the real state, not the initial one
        async with server:
            self.port = server.bserver.port if server.bserver is not None else self.port
            self._server = server
            self._listening.set()
            beat = asyncio.create_task(self._beat(nodes))
            try:
                await self._pump(nodes)
            finally:
                beat.cancel()

    async def _make_server(self) -> Server:
        config = self.config
        server = Server(user_manager=StationUsers(config.logins, config.anonymous))
        await server.init()
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}")
        server.set_server_name("draem-inspect")
        uri = f"urn:draem-inspect:{socket.gethostname()}:station"
        await server.set_application_uri(uri)
        cert, key = await ensure_certificate(self.pki_dir, uri)
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
        policies = [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt, ua.SecurityPolicyType.Basic256Sha256_Sign]
        if config.insecure:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        server.set_security_policy(policies, permission_ruleset=SimpleRoleRuleset())
        tokens = [ua.UserNameIdentityToken] + ([ua.AnonymousIdentityToken] if config.anonymous else [])
        server.set_identity_tokens(tokens)
        return server

    async def _pump(self, nodes: StationNodes) -> None:
        """Verdicts as they come, and the state every ``poll_s``: verdicts first, so that Ready never shows before
        the result of the trigger it answers."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.poll_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            await self._drain(nodes)
            await self._show_state(nodes)

    async def _drain(self, nodes: StationNodes) -> None:
        while self._queue:
            kind, item, is_part = self._queue.popleft()
            try:
                await (nodes.record(item, is_part) if kind == "record" else nodes.part(item))
                self.published += 1
            except Exception as exc:  # noqa: BLE001 - one bad verdict must not end the server
                self._report(exc)

    async def _show_state(self, nodes: StationNodes) -> None:
        link = self.link
        await nodes.values.set("State", link.state())
        await nodes.values.set("ModelVersion", link.model_version())
        await nodes.values.set("Recipe", link.recipe())

    async def _beat(self, nodes: StationNodes) -> None:
        count = 0
        while True:
            await asyncio.sleep(self.config.heartbeat_s)
            count = (count + 1) % HEARTBEAT_WRAP
            await nodes.values.set("Heartbeat", count)

    # --- methods -----------------------------------------------------------------------------------

    def _handlers(self) -> dict:
        return {"Trigger": self._trigger, "SelectRecipe": self._select_recipe, "Start": self._start, "Stop": self._stop_inspecting}

    async def _start(self, parent, *args) -> object:
        return self._command(self.link.start, args)

    async def _stop_inspecting(self, parent, *args) -> object:
        return self._command(self.link.stop, args)

    async def _trigger(self, parent, *args) -> object:
        part_id = _text_argument(args)
        if part_id is None:
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        try:
            number = self.link.trigger(part_id)
        except PlantError as exc:
            self._report(exc)
            return ua.StatusCode(ua.StatusCodes.BadInvalidState)
        return [ua.Variant(number, ua.VariantType.UInt32)]

    async def _select_recipe(self, parent, *args) -> object:
        name = _text_argument(args)
        if name is None:
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        try:  # reads the recipe and registry files: off the loop
            await asyncio.get_running_loop().run_in_executor(None, self.link.select_recipe, name)
        except PlantError as exc:
            self._report(exc)
            return ua.StatusCode(ua.StatusCodes.BadNotSupported)
        except DraemError as exc:
            self._report(exc)
            return ua.StatusCode(ua.StatusCodes.BadNotFound)
        return []

    def _command(self, action, args: tuple) -> object:
        if args:
            return ua.StatusCode(ua.StatusCodes.BadTooManyArguments)
        try:
            action()
        except PlantError as exc:
            self._report(exc)
            return ua.StatusCode(ua.StatusCodes.BadInvalidState)
        return []

    def _report(self, error: object) -> None:
        if self._on_error is not None:
            self._on_error("OPC UA", error)
        else:
            log.error("OPC UA: %s", error)


def _text_argument(args: tuple) -> str | None:
    """The one String input argument of a method call, None when the call gave something else."""
    if len(args) != 1 or not isinstance(args[0], ua.Variant) or args[0].VariantType != ua.VariantType.String:
        return None
    return args[0].Value or ""
