"""Fixtures for the camera layer: simulated cameras (the real viky.cti producer) and a node-map double.

The double has the attribute shape of a genicam ``NodeMap`` for the features the simulator lacks
(exposure, gain, trigger, user sets, digital outputs). It records every write and command in ``log``.
"""

from __future__ import annotations

import pytest

CODES = {"integer": 2, "boolean": 3, "command": 4, "float": 5, "string": 6, "enumeration": 9}
ACCESS_CODES = {"NI": 0, "NA": 1, "WO": 2, "RO": 3, "RW": 4}


class FakeINode:
    """The ``node.node`` part: name, type, access, visibility."""

    def __init__(self, name: str, kind: str, access: str, visibility: int = 0) -> None:
        self.name = name
        self.display_name = name
        self.description = f"{name} (double)"
        self.principal_interface_type = CODES[kind]
        self.access = access
        self.visibility = visibility
        self.selecting_features = ()

    def get_access_mode(self) -> int:
        return ACCESS_CODES[self.access]

    def is_streamable(self) -> bool:
        return self.principal_interface_type != CODES["command"]


class FakeNode:
    """One feature node with ``value`` / ``min`` / ``max`` / ``inc`` / ``unit`` / ``symbolics`` / ``execute``."""

    def __init__(
        self,
        node_map,
        name,
        kind,
        value=None,
        *,
        minimum=None,
        maximum=None,
        inc=None,
        unit="",
        entries=(),
        access="RW",
    ) -> None:
        self._map = node_map
        self.node = FakeINode(name, kind, access)
        self._value = value
        self.min, self.max, self.inc, self.unit = minimum, maximum, inc, unit
        self.symbolics = tuple(entries)

    def has_inc(self) -> bool:
        return self.inc is not None

    @property
    def value(self):
        if self.node.access not in ("RO", "RW"):
            raise RuntimeError(f"AccessException: {self.node.name} not readable")
        return self._value

    @value.setter
    def value(self, new) -> None:
        if self.node.access not in ("WO", "RW"):
            raise RuntimeError(f"AccessException: {self.node.name} not writable")
        self._map.log.append((self.node.name, new))
        self._value = new

    def execute(self) -> None:
        self._map.log.append((self.node.name, "execute"))


class FakeNodeMap:
    """A node map built from ``add`` calls."""

    def __init__(self) -> None:
        self.nodes_by_name: dict[str, FakeNode] = {}
        self.log: list[tuple[str, object]] = []

    def add(self, name, kind, value=None, **kw) -> FakeNode:
        self.nodes_by_name[name] = FakeNode(self, name, kind, value, **kw)
        return self.nodes_by_name[name]

    def has_node(self, name: str) -> bool:
        return name in self.nodes_by_name

    def get_node(self, name: str) -> FakeNode:
        return self.nodes_by_name[name]


@pytest.fixture
def sfnc2_camera() -> FakeNodeMap:
    """A modern (SFNC 2.x) camera: exposure, gain, trigger, ROI with increments, user sets, outputs."""
    nm = FakeNodeMap()
    nm.add("ExposureTime", "float", 5000.0, minimum=20.0, maximum=1e6, unit="us")
    nm.add("ExposureAuto", "enumeration", "Continuous", entries=("Off", "Once", "Continuous"))
    nm.add("Gain", "float", 0.0, minimum=0.0, maximum=24.0, unit="dB")
    nm.add("GainAuto", "enumeration", "Off", entries=("Off", "Once", "Continuous"))
    nm.add("AcquisitionFrameRate", "float", 30.0, minimum=1.0, maximum=120.0, unit="Hz")
    nm.add("AcquisitionFrameRateEnable", "boolean", False)
    nm.add("TriggerSelector", "enumeration", "FrameStart", entries=("FrameStart", "AcquisitionStart"))
    nm.add("TriggerMode", "enumeration", "Off", entries=("Off", "On"))
    nm.add("TriggerSource", "enumeration", "Line0", entries=("Line0", "Software"))
    nm.add("TriggerActivation", "enumeration", "RisingEdge", entries=("RisingEdge", "FallingEdge"))
    nm.add("TriggerSoftware", "command", access="WO")
    nm.add("PixelFormat", "enumeration", "Mono8", entries=("Mono8", "Mono12p", "BayerRG8"))
    nm.add("Width", "integer", 1280, minimum=64, maximum=1280, inc=16)
    nm.add("Height", "integer", 1024, minimum=64, maximum=1024, inc=8)
    nm.add("OffsetX", "integer", 0, minimum=0, maximum=1216, inc=16)
    nm.add("OffsetY", "integer", 0, minimum=0, maximum=960, inc=8)
    nm.add("UserSetSelector", "enumeration", "Default", entries=("Default", "UserSet1", "UserSet2"))
    nm.add("UserSetLoad", "command", access="WO")
    nm.add("UserSetSave", "command", access="WO")
    nm.add("UserSetDefault", "enumeration", "Default", entries=("Default", "UserSet1", "UserSet2"))
    nm.add("LineSelector", "enumeration", "Line0", entries=("Line0", "Line1", "Line2"))
    nm.add("LineMode", "enumeration", "Input", entries=("Input", "Output"))
    nm.add(
        "LineSource", "enumeration", "Off", entries=("Off", "ExposureActive", "UserOutput1", "UserOutput2")
    )
    nm.add("UserOutputSelector", "enumeration", "UserOutput1", entries=("UserOutput1", "UserOutput2"))
    nm.add("UserOutputValue", "boolean", False)
    return nm


@pytest.fixture
def sfnc1_camera() -> FakeNodeMap:
    """An older GigE camera with SFNC 1.x names only."""
    nm = FakeNodeMap()
    nm.add("ExposureTimeAbs", "float", 10000.0, minimum=35.0, maximum=1e6, unit="us")
    nm.add("GainRaw", "integer", 0, minimum=0, maximum=500, inc=1)
    nm.add("AcquisitionFrameRateAbs", "float", 10.0, minimum=0.5, maximum=60.0, unit="Hz")
    nm.add("TriggerMode", "enumeration", "Off", entries=("Off", "On"))
    nm.add("TriggerSource", "enumeration", "Line1", entries=("Line1", "Software"))
    nm.add("TriggerSoftware", "command", access="WO")
    return nm


@pytest.fixture
def open_sim():
    """Factory for simulated camera sources, closed after the test."""
    from app.sources.factory import open_source

    sources = []

    def make(spec: str = "sim", **options):
        source = open_source(spec, **options)
        sources.append(source)
        source.open()
        return source

    yield make
    for source in sources:
        source.close()
