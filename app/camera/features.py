"""Typed access to any GenICam feature, and the feature tree as plain data for an editor.

Works on anything shaped like a genicam ``NodeMap``: ``has_node(name)``, ``get_node(name)`` returning a
node with ``.value`` (plus ``min``/``max``/``inc``/``unit``, ``symbolics``, ``execute()`` or ``features``
by type) and ``.node`` carrying ``name``, ``display_name``, ``description``, ``visibility``,
``principal_interface_type`` and ``get_access_mode()``. The tree is read in the acquisition process and
sent to the application as :class:`FeatureInfo` values; nothing here touches Qt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from app.camera.errors import FeatureError

# GenApi EInterfaceType codes -> our kind names.
KINDS = {
    2: "integer",
    3: "boolean",
    4: "command",
    5: "float",
    6: "string",
    7: "register",
    8: "category",
    9: "enumeration",
    10: "enum_entry",
}
ACCESS = {0: "NI", 1: "NA", 2: "WO", 3: "RO", 4: "RW"}  # GenApi EAccessMode
VISIBILITY = {0: "Beginner", 1: "Expert", 2: "Guru", 3: "Invisible"}  # GenApi EVisibility
VISIBILITY_RANK = {name: code for code, name in VISIBILITY.items()}
VALUE_KINDS = ("integer", "float", "boolean", "enumeration", "string")


@dataclass(frozen=True)
class FeatureInfo:
    """One node of the remote device, as plain data."""

    name: str  # GenICam name, e.g. "ExposureTime"
    kind: str  # one of KINDS' values: "integer", "float", "boolean", "enumeration", "string", "command", ...
    display_name: str = ""  # human-readable name from the device's XML
    description: str = ""  # the device's description (tooltip)
    access: str = "NA"  # "RW", "RO", "WO", "NA" (not available now) or "NI" (not implemented)
    visibility: str = "Beginner"  # "Beginner", "Expert", "Guru" or "Invisible"
    value: object = None  # current value (int/float/bool/str); None for commands, categories or unreadable
    minimum: float | None = None  # lower bound (integer/float)
    maximum: float | None = None  # upper bound (integer/float)
    increment: float | None = None  # step (integer, float where the device defines one)
    unit: str = ""  # e.g. "us", "dB", "Hz"
    entries: tuple[str, ...] = ()  # enumeration entries available now
    children: tuple[str, ...] = ()  # feature names of a category, in device order
    selectors: tuple[str, ...] = ()  # selectors this feature's value depends on (e.g. LineSelector)
    streamable: bool = False  # the device marks it as part of a saved configuration

    @property
    def readable(self) -> bool:
        """The value can be read now."""
        return self.access in ("RO", "RW")

    @property
    def writable(self) -> bool:
        """The value can be written now."""
        return self.access in ("WO", "RW")


@dataclass(frozen=True)
class FeatureTree:
    """All features under a root category, keyed by name."""

    root: str  # name of the root category, usually "Root"
    features: dict[str, FeatureInfo] = field(default_factory=dict)  # every node reached, by name

    def walk(self, max_visibility: str = "Guru") -> Iterator[tuple[int, FeatureInfo]]:
        """Depth-first ``(depth, feature)`` pairs, skipping features above ``max_visibility``."""
        limit = VISIBILITY_RANK[max_visibility]
        stack = [(0, self.root)]
        while stack:
            depth, name = stack.pop()
            info = self.features.get(name)
            if info is None or VISIBILITY_RANK.get(info.visibility, 3) > limit:
                continue
            yield depth, info
            stack.extend((depth + 1, child) for child in reversed(info.children))

    def search(self, text: str, max_visibility: str = "Guru") -> list[FeatureInfo]:
        """Non-category features whose name or display name contains ``text`` (case-insensitive)."""
        text = text.lower()
        return [
            f
            for _, f in self.walk(max_visibility)
            if f.kind != "category" and (text in f.name.lower() or text in f.display_name.lower())
        ]


def find_node(node_map, name: str):
    """The node called ``name``, or None if the device has no such node."""
    try:
        return node_map.get_node(name) if node_map.has_node(name) else None
    except Exception:  # noqa: BLE001 - vendor XML can make lookups fail; treat as absent
        return None


def describe(node) -> FeatureInfo:
    """Snapshot of one node as a :class:`FeatureInfo`."""
    base = node.node
    kind = KINDS.get(int(base.principal_interface_type), "other")
    access = ACCESS.get(int(base.get_access_mode()), "NA")
    info = dict(
        name=base.name,
        kind=kind,
        display_name=_attr(base, "display_name", ""),
        description=_attr(base, "description", ""),
        access=access,
        visibility=VISIBILITY.get(int(base.visibility), "Invisible"),
        selectors=tuple(s.node.name for s in _attr(base, "selecting_features", ())),
        streamable=bool(_call(base, "is_streamable", False)),
    )
    if kind == "category":
        info["children"] = tuple(f.node.name for f in node.features)
    if kind in ("integer", "float"):
        info.update(
            minimum=_attr(node, "min", None),
            maximum=_attr(node, "max", None),
            unit=_attr(node, "unit", "") or "",
        )
        has_inc = kind == "integer" or _call(node, "has_inc", False)
        info["increment"] = _attr(node, "inc", None) if has_inc else None
    if kind == "enumeration":
        info["entries"] = tuple(_attr(node, "symbolics", ()))
    if kind in VALUE_KINDS and access in ("RO", "RW"):
        info["value"] = _attr(node, "value", None)
    return FeatureInfo(**info)


def read_feature_tree(node_map, root: str = "Root") -> FeatureTree:
    """Every feature reachable from the ``root`` category (categories included)."""
    features: dict[str, FeatureInfo] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        node = find_node(node_map, name)
        if name in features or node is None:
            continue
        try:
            info = describe(node)
        except Exception:  # noqa: BLE001 - one broken node must not hide the others
            continue
        features[name] = info
        pending.extend(info.children)
    return FeatureTree(root, features)


def get_value(node_map, name: str, device: str = ""):
    """Current value of a feature (int, float, bool or str).

    Raises:
        FeatureError: no such feature, or it is not readable now.
    """
    node = _require(node_map, name, device)
    info = describe(node)
    if not info.readable:
        raise FeatureError(device, name, f"is not readable now (access {info.access})")
    return node.value


def set_value(node_map, name: str, value, device: str = ""):
    """Write a feature after converting ``value`` (which may be text, e.g. from a command line) to its type.

    Commands are executed (``value`` is ignored). Returns the value read back (None for commands).

    Raises:
        FeatureError: no such feature, not writable now, or a value of the wrong type / out of range.
    """
    node = _require(node_map, name, device)
    info = describe(node)
    if not info.writable and not (info.kind == "command" and info.access != "NI"):
        raise FeatureError(device, name, f"is not writable now (access {info.access})")
    if info.kind == "command":
        node.execute()
        return None
    converted = convert(info, value, device)
    try:
        node.value = converted
    except Exception as exc:  # noqa: BLE001 - the device refuses with its own exception types
        raise FeatureError(device, name, f"the device refused {converted!r}: {_reason(exc)}") from exc
    return node.value if info.access == "RW" else converted


def convert(info: FeatureInfo, value, device: str = ""):
    """``value`` converted to the type of ``info`` and checked against its range/entries."""
    try:
        if info.kind == "integer":
            converted = int(value, 0) if isinstance(value, str) else int(value)
        elif info.kind == "float":
            converted = float(value)
        elif info.kind == "boolean":
            converted = _to_bool(value)
        elif info.kind in ("enumeration", "string"):
            converted = str(value)
        else:
            raise FeatureError(device, info.name, f"features of kind {info.kind} cannot be set")
    except (TypeError, ValueError) as exc:
        raise FeatureError(device, info.name, f"{value!r} is not a valid {info.kind}") from exc
    _check_range(info, converted, device)
    return converted


def _check_range(info: FeatureInfo, value, device: str) -> None:
    if info.kind == "enumeration" and info.entries and value not in info.entries:
        raise FeatureError(device, info.name, f"{value!r} is not one of {', '.join(info.entries)}")
    if info.kind not in ("integer", "float"):
        return
    if info.minimum is not None and value < info.minimum:
        raise FeatureError(device, info.name, f"{value} is below the minimum {info.minimum}{_unit(info)}")
    if info.maximum is not None and value > info.maximum:
        raise FeatureError(device, info.name, f"{value} is above the maximum {info.maximum}{_unit(info)}")
    inc = info.increment
    if info.kind == "integer" and inc and inc > 1 and (value - (info.minimum or 0)) % inc:
        lower = value - (value - (info.minimum or 0)) % inc
        raise FeatureError(
            device, info.name, f"{value} is not a multiple of the step {inc} (try {lower} or {lower + inc})"
        )


def _to_bool(value) -> bool:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "on", "yes"):
            return True
        if lowered in ("0", "false", "off", "no"):
            return False
        raise ValueError(value)
    return bool(value)


def _require(node_map, name: str, device: str):
    node = find_node(node_map, name)
    if node is None:
        raise FeatureError(device, name, "this camera has no such feature")
    return node


def _unit(info: FeatureInfo) -> str:
    return f" {info.unit}" if info.unit else ""


def _attr(obj, name: str, default):
    try:
        value = getattr(obj, name)
    except Exception:  # noqa: BLE001 - unreadable properties (access NA) raise vendor exceptions
        return default
    return default if value is None else value


def _call(obj, name: str, default):
    try:
        return getattr(obj, name)()
    except Exception:  # noqa: BLE001 - optional GenApi methods missing or failing
        return default


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
