"""Camera settings files: what is captured, the file round trip, applying with ordering, clear errors."""

from __future__ import annotations

import json

import pytest

from app.camera.errors import CameraError
from app.camera.features import FeatureInfo, FeatureTree
from app.camera.settings_file import CameraSettings, apply_settings, capture, load_settings, save_settings


def tree() -> FeatureTree:
    f = [
        FeatureInfo("Root", "category", access="RO", children=("Width", "Sel", "Fmt", "Temp", "Go", "Guru")),
        FeatureInfo("Width", "integer", access="RW", value=640, streamable=True),
        FeatureInfo("Sel", "enumeration", access="RW", value="Intensity", entries=("Intensity", "Range")),
        FeatureInfo("Fmt", "enumeration", access="RW", value="Mono8", selectors=("Sel",), streamable=True),
        FeatureInfo("Temp", "float", access="RO", value=41.5, streamable=True),  # read-only: not saved
        FeatureInfo("Go", "command", access="WO", streamable=True),  # commands: never saved
        FeatureInfo("Guru", "boolean", access="RW", value=True, visibility="Guru", streamable=False),
    ]
    return FeatureTree("Root", {i.name: i for i in f})


def test_capture_keeps_writable_streamable_values_with_their_selector_first():
    settings = capture(tree(), {"serial": "S1"})
    assert settings.features == (("Width", 640), ("Sel", "Intensity"), ("Fmt", "Mono8"))
    assert settings.device == {"serial": "S1"}


def test_round_trip_and_atomic_json(tmp_path):
    path = save_settings(tmp_path / "sub" / "cam.json", capture(tree(), {"model": "X"}))
    doc = json.loads(path.read_text())
    assert doc["format"] == "draem-inspect camera settings" and doc["version"] == 1
    assert load_settings(path) == CameraSettings(
        (("Width", 640), ("Sel", "Intensity"), ("Fmt", "Mono8")), {"model": "X"}
    )
    assert [p.name for p in path.parent.iterdir()] == ["cam.json"]  # no temp file left behind


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "other"}', "not a camera settings file"),
        ('{"format": "draem-inspect camera settings", "version": 9, "features": []}', "version 9 is newer"),
        (
            '{"format": "draem-inspect camera settings", "version": 1, "features": [["Width"]]}',
            "no valid 'features'",
        ),
    ],
)
def test_bad_files_are_named(tmp_path, content, message):
    path = tmp_path / "cam.json"
    path.write_text(content)
    with pytest.raises(CameraError, match=message):
        load_settings(path)
    with pytest.raises(CameraError, match="missing.json: cannot read settings file"):
        load_settings(tmp_path / "missing.json")


def test_apply_retries_what_ordering_refused_and_reports_the_rest(sfnc2_camera):
    sfnc2_camera.get_node("Width").max = 1280
    sfnc2_camera.get_node("OffsetX").max = 0  # only after Width shrinks (the double: raise the limit by hand)
    settings = CameraSettings((("OffsetX", 64), ("Width", 640), ("Nope", 1), ("Gain", 99.0)))

    class ShrinkingWidth:
        """Width writes free room for OffsetX, as on a real camera."""

        def __init__(self, inner):
            self.inner = inner

        def has_node(self, name):
            return self.inner.has_node(name)

        def get_node(self, name):
            if name == "OffsetX" and self.inner.get_node("Width").value <= 640:
                self.inner.get_node("OffsetX").max = 640
            return self.inner.get_node(name)

    failures = apply_settings(ShrinkingWidth(sfnc2_camera), settings, "S1")
    assert sfnc2_camera.get_node("OffsetX").value == 64 and sfnc2_camera.get_node("Width").value == 640
    assert failures == [
        ("Nope", "this camera has no such feature"),
        ("Gain", "99.0 is above the maximum 24.0 dB"),
    ]
