"""The OPC UA address space of a station (namespace ``urn:draem-inspect``), built and updated on the server's loop.

::

    Objects/Station                 (ns=<urn:draem-inspect>;s=Station), emits a ResultEventType event per part
        State          String       Ready | Busy | Error | Stopped
        PartCounter    UInt64       parts judged since the server started
        LastVerdict    String       OK | NG | NOT_JUDGED
        LastScore      Double       calibrated score of the last part (NG at >= 0.5; NaN when not judged)
        LastPartId     String       the part id given with the trigger of the last part
        ModelVersion   String       the model's registry version
        Recipe         String       the recipe in force
        Heartbeat      UInt32       +1 every second while the server runs
        Trigger(PartId String) -> TriggerNumber UInt32;  SelectRecipe(Name String);  Start();  Stop()
        Cameras/<camera id>         one object per camera, emits a ResultEventType event per camera verdict
            PartCounter, LastVerdict, LastScore, LastPartId, ModelVersion (as above, of that camera)

Node ids are strings (``Station.State``, ``Station.Cameras.<camera id>.LastVerdict``) so a PLC can address them
without browsing. Everything here runs on the server's event loop only.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from asyncua import Server, ua

from app.pipeline.record import InspectionRecord, PartRecord
from app.plant.link import part_score

NAMESPACE = "urn:draem-inspect"
V = ua.VariantType
STATION_VARIABLES = (  # name, type, initial value, description
    ("State", V.String, "Stopped", "Ready, Busy, Error or Stopped: Ready only while the station can judge a part"),
    ("PartCounter", V.UInt64, 0, "Parts judged since the server started"),
    ("LastVerdict", V.String, "", "OK, NG or NOT_JUDGED of the last part (NOT_JUDGED is a reject)"),
    ("LastScore", V.Double, math.nan, "Calibrated score of the last part: NG at 0.5 and above; NaN when not judged"),
    ("LastPartId", V.String, "", "The part id given with the trigger of the last part"),
    ("ModelVersion", V.String, "", "Registry version of the model in use"),
    ("Recipe", V.String, "", "The recipe in force"),
    ("Heartbeat", V.UInt32, 0, "Increases by one every second while the server runs"),
)
CAMERA_VARIABLES = ("PartCounter", "LastVerdict", "LastScore", "LastPartId", "ModelVersion")
EVENT_FIELDS = (("Verdict", V.String), ("Score", V.Double), ("PartId", V.String), ("Camera", V.String),
                ("ModelVersion", V.String), ("Recipe", V.String), ("TriggerNumber", V.UInt32),
                ("Reason", V.String))  # fmt: skip
METHODS = (  # name, inputs, outputs, description
    ("Trigger", (("PartId", V.String, "The part's id; it comes back with the result"),),
     (("TriggerNumber", V.UInt32, "The trigger's number in the station"),), "Judge the part in front of the cameras"),
    ("SelectRecipe", (("Name", V.String, "The recipe's name"),), (), "Switch product; State is Busy until it is in force"),
    ("Start", (), (), "Start inspecting"),
    ("Stop", (), (), "Stop inspecting (State: Stopped)"),
)  # fmt: skip
Handler = Callable[..., Awaitable[object]]  # (parent node id, *input Variants) -> outputs or a StatusCode


class Values:
    """Variables under one object, written only when their value changed."""

    def __init__(self, nodes: dict[str, object], types: dict[str, ua.VariantType]) -> None:
        self.nodes, self.types = nodes, types
        self.last: dict[str, object] = {}

    async def set(self, name: str, value: object) -> None:
        old = self.last.get(name, _UNSET)
        if old == value or _both_nan(old, value):
            return
        self.last[name] = value
        await self.nodes[name].write_value(ua.Variant(value, self.types[name]))


class CameraNodes:
    """One camera's object, its variables and its event generator."""

    def __init__(self, values: Values, events) -> None:
        self.values, self.events, self.count = values, events, 0


class StationNodes:
    """The Station object: variables, methods, cameras and result events (build with :meth:`build`)."""

    def __init__(self, server: Server, ns: int, obj, values: Values, event_type, events, cameras_folder) -> None:
        self.server, self.ns, self.obj, self.values = server, ns, obj, values
        self.event_type, self.events, self.cameras_folder = event_type, events, cameras_folder
        self.cameras: dict[str, CameraNodes] = {}
        self.count = 0

    @classmethod
    async def build(cls, server: Server, handlers: dict[str, Handler]) -> StationNodes:
        """Register the namespace and make the Station object with its methods (``handlers`` by method name)."""
        ns = await server.register_namespace(NAMESPACE)
        obj = await server.nodes.objects.add_object(ua.NodeId("Station", ns), ua.QualifiedName("Station", ns))
        values = await _variables(obj, ns, "Station", [v[:3] for v in STATION_VARIABLES])
        for name, _, _, text in STATION_VARIABLES:
            await values.nodes[name].write_attribute(ua.AttributeIds.Description,
                                                     ua.DataValue(ua.Variant(ua.LocalizedText(text))))  # fmt: skip
        for name, inputs, outputs, _ in METHODS:
            await obj.add_method(ua.NodeId(f"Station.{name}", ns), ua.QualifiedName(name, ns), handlers[name],
                                 [_argument(*a) for a in inputs], [_argument(*a) for a in outputs])  # fmt: skip
        folder = await obj.add_folder(ua.NodeId("Station.Cameras", ns), ua.QualifiedName("Cameras", ns))
        event_type = await server.create_custom_event_type(ns, "ResultEventType", ua.ObjectIds.BaseEventType,
                                                           list(EVENT_FIELDS))  # fmt: skip
        events = await server.get_event_generator(event_type, obj)
        return cls(server, ns, obj, values, event_type, events, folder)

    async def camera(self, camera: str) -> CameraNodes:
        """The nodes of ``camera`` (made on its first verdict)."""
        nodes = self.cameras.get(camera)
        if nodes is None:
            base = f"Station.Cameras.{camera}"
            obj = await self.cameras_folder.add_object(ua.NodeId(base, self.ns), ua.QualifiedName(camera, self.ns))
            types = dict((n, t) for n, t, _, _ in STATION_VARIABLES if n in CAMERA_VARIABLES)
            initial = [(n, types[n], v) for n, _, v, _ in STATION_VARIABLES if n in CAMERA_VARIABLES]
            values = await _variables(obj, self.ns, base, initial)
            nodes = CameraNodes(values, await self.server.get_event_generator(self.event_type, obj))
            self.cameras[camera] = nodes
        return nodes

    async def record(self, record: InspectionRecord, is_part: bool) -> None:
        """A camera's verdict: its camera's nodes and event; the Station's too when it is its part's verdict."""
        nodes = await self.camera(record.camera)
        nodes.count += 1
        fields = _fields(record.verdict, record.normalized, record.part_id, record.camera, record.model_version,
                         record.recipe, record.trigger, record.reason)  # fmt: skip
        await nodes.values.set("ModelVersion", record.model_version)
        await _show(nodes.values, nodes.count, fields)
        await _emit(nodes.events, fields, record.time)
        if is_part:
            self.count += 1
            await _show(self.values, self.count, fields)
            await _emit(self.events, fields, record.time)

    async def part(self, part: PartRecord) -> None:
        """A part's verdict across several cameras: the Station's nodes and event (Camera is empty)."""
        self.count += 1
        version = part.cameras[0].model_version if part.cameras else ""
        reasons = "; ".join(f"{r.camera}: {r.reason}" for r in part.cameras if r.reason)
        fields = _fields(part.verdict, part_score(part), part.part_id, "", version, part.recipe, part.trigger, reasons)
        await _show(self.values, self.count, fields)
        await _emit(self.events, fields, part.time)


async def _variables(obj, ns: int, base: str, specs) -> Values:
    nodes, types = {}, {}
    for name, kind, value in specs:
        nodes[name] = await obj.add_variable(ua.NodeId(f"{base}.{name}", ns), ua.QualifiedName(name, ns),
                                             ua.Variant(value, kind))  # fmt: skip
        types[name] = kind
    values = Values(nodes, types)
    values.last = {name: value for name, _, value in specs}
    return values


def _fields(verdict: str, score: float | None, part_id: str, camera: str, version: str, recipe: str,
            trigger: int, reason: str) -> dict:  # fmt: skip
    score = float(score) if score is not None and math.isfinite(score) else math.nan
    return {"Verdict": verdict, "Score": score, "PartId": part_id, "Camera": camera, "ModelVersion": version,
            "Recipe": recipe, "TriggerNumber": max(0, int(trigger)), "Reason": reason}  # fmt: skip


async def _show(values: Values, count: int, fields: dict) -> None:
    """The last part's values, the counter last: a PLC that sees the counter change reads the new values."""
    await values.set("LastVerdict", fields["Verdict"])
    await values.set("LastScore", fields["Score"])
    await values.set("LastPartId", fields["PartId"])
    await values.set("PartCounter", count)


async def _emit(generator, fields: dict, epoch: float) -> None:
    for name, value in fields.items():
        setattr(generator.event, name, value)
    generator.event.Severity = 500 if fields["Verdict"] != "OK" else 100
    part = f" {fields['PartId']}" if fields["PartId"] else ""
    await generator.trigger(time_attr=datetime.fromtimestamp(epoch, timezone.utc), message=f"part{part}: {fields['Verdict']}")


def _argument(name: str, kind: ua.VariantType, text: str) -> ua.Argument:
    arg = ua.Argument()
    arg.Name, arg.DataType, arg.ValueRank = name, ua.NodeId(kind.value), -1
    arg.ArrayDimensions, arg.Description = [], ua.LocalizedText(text)
    return arg


_UNSET = object()


def _both_nan(a: object, b: object) -> bool:
    """NaN never equals itself: two NaNs are the same score here (nothing to write)."""
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
