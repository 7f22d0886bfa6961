"""Feature conveniences against a node-map double (the simulator has no exposure/gain/trigger/output nodes)."""

from __future__ import annotations

import pytest

from app.camera.controls import CameraControls, Roi
from app.camera.errors import FeatureError
from app.camera.features import describe, get_value, read_feature_tree, set_value


def test_exposure_and_gain_switch_auto_off(sfnc2_camera):
    cam = CameraControls(sfnc2_camera, "S1")
    assert cam.set_exposure_us(1234.5) == 1234.5
    assert sfnc2_camera.log[:2] == [("ExposureAuto", "Off"), ("ExposureTime", 1234.5)]
    assert cam.set_gain(6) == 6.0
    assert sfnc2_camera.get_node("GainAuto").value == "Off"
    cam.set_exposure_auto("Continuous")
    assert sfnc2_camera.get_node("ExposureAuto").value == "Continuous"
    with pytest.raises(FeatureError, match="S1: feature ExposureTime: 5.0 is below the minimum 20.0 us"):
        cam.set_exposure_us(5)
    with pytest.raises(ValueError, match="auto mode"):
        cam.set_gain_auto("Sometimes")


def test_sfnc1_fallback_names(sfnc1_camera):
    cam = CameraControls(sfnc1_camera, "old")
    assert cam.exposure_us() == 10000.0
    cam.set_exposure_us(2000)
    assert sfnc1_camera.get_node("ExposureTimeAbs").value == 2000.0
    cam.set_gain(12.4)
    assert sfnc1_camera.get_node("GainRaw").value == 12  # raw units are integers
    cam.set_frame_rate(25)
    assert sfnc1_camera.get_node("AcquisitionFrameRateAbs").value == 25.0


def test_frame_rate_enables_the_switch(sfnc2_camera):
    CameraControls(sfnc2_camera).set_frame_rate(60)
    assert sfnc2_camera.log == [("AcquisitionFrameRateEnable", True), ("AcquisitionFrameRate", 60.0)]


def test_software_trigger(sfnc2_camera):
    cam = CameraControls(sfnc2_camera, "S1")
    with pytest.raises(FeatureError, match="trigger mode is off"):
        cam.software_trigger()
    cam.set_trigger(True, source="Software", activation="RisingEdge")
    assert cam.trigger_enabled()
    assert sfnc2_camera.log[-1] == ("TriggerMode", "On")  # mode last, after selector and source
    assert ("TriggerSource", "Software") in sfnc2_camera.log
    cam.software_trigger()
    cam.software_trigger()
    assert sfnc2_camera.log[-2:] == [("TriggerSoftware", "execute")] * 2
    cam.set_trigger(False)
    assert not cam.trigger_enabled()


def test_sfnc1_software_trigger_without_selector(sfnc1_camera):
    cam = CameraControls(sfnc1_camera)
    cam.set_trigger(True)
    cam.software_trigger()
    assert sfnc1_camera.log == [
        ("TriggerSource", "Software"),
        ("TriggerMode", "On"),
        ("TriggerSoftware", "execute"),
    ]


def test_roi_snaps_to_increments_in_a_safe_order(sfnc2_camera):
    cam = CameraControls(sfnc2_camera)
    sfnc2_camera.get_node("OffsetX").value = 64
    sfnc2_camera.log.clear()
    applied = cam.set_roi(Roi(width=1000, height=500, offset_x=100, offset_y=13))
    assert applied == Roi(width=992, height=496, offset_x=96, offset_y=8)
    names = [name for name, _ in sfnc2_camera.log]
    assert names == ["OffsetX", "OffsetY", "Width", "Height", "OffsetX", "OffsetY"]
    assert cam.set_roi(Roi(5000, 10)) == Roi(1280, 64, 0, 0)  # clamped to the ranges


def test_pixel_format_and_user_sets(sfnc2_camera):
    cam = CameraControls(sfnc2_camera)
    assert cam.pixel_formats() == ("Mono8", "Mono12p", "BayerRG8")
    assert cam.set_pixel_format("Mono12p") == "Mono12p"
    with pytest.raises(FeatureError, match="'RGB8' is not one of Mono8, Mono12p, BayerRG8"):
        cam.set_pixel_format("RGB8")
    assert cam.user_sets() == ("Default", "UserSet1", "UserSet2")
    cam.save_user_set("UserSet1")
    cam.load_user_set("UserSet2")
    cam.set_startup_user_set("UserSet1")
    assert sfnc2_camera.log[-5:] == [
        ("UserSetSelector", "UserSet1"),
        ("UserSetSave", "execute"),
        ("UserSetSelector", "UserSet2"),
        ("UserSetLoad", "execute"),
        ("UserSetDefault", "UserSet1"),
    ]


def test_output_pulse_sequence(sfnc2_camera):
    slept = []
    CameraControls(sfnc2_camera).pulse_output("Line1", 0.05, sleep=slept.append)
    high = [
        ("LineSelector", "Line1"),
        ("LineMode", "Output"),
        ("LineSource", "UserOutput1"),
        ("UserOutputSelector", "UserOutput1"),
    ]
    assert sfnc2_camera.log == [*high, ("UserOutputValue", True), *high, ("UserOutputValue", False)]
    assert slept == [0.05]


def test_missing_features_are_named(sfnc1_camera):
    with pytest.raises(FeatureError, match="none of ExposureTime, ExposureTimeAbs"):
        CameraControls(CameraControlsMapWithout(sfnc1_camera, "ExposureTimeAbs")).exposure_us()
    with pytest.raises(FeatureError, match="LineSelector: this camera has no such feature"):
        CameraControls(sfnc1_camera).set_output("Line1", True)


def test_typed_set_value_conversions(sfnc2_camera):
    assert set_value(sfnc2_camera, "Width", "640") == 640
    assert set_value(sfnc2_camera, "AcquisitionFrameRateEnable", "true") is True
    assert set_value(sfnc2_camera, "Gain", "3.5") == 3.5
    with pytest.raises(FeatureError, match="650 is not a multiple of the step 16 \\(try 640 or 656\\)"):
        set_value(sfnc2_camera, "Width", 650)
    with pytest.raises(FeatureError, match="'wide' is not a valid integer"):
        set_value(sfnc2_camera, "Width", "wide")
    sfnc2_camera.get_node("Width").node.access = "RO"
    with pytest.raises(FeatureError, match="Width: is not writable now \\(access RO\\)"):
        set_value(sfnc2_camera, "Width", 640)
    assert get_value(sfnc2_camera, "Width") == 640


def test_describe_and_tree_of_double(sfnc2_camera):
    info = describe(sfnc2_camera.get_node("ExposureTime"))
    assert (info.kind, info.access, info.unit, info.minimum, info.visibility) == (
        "float",
        "RW",
        "us",
        20.0,
        "Beginner",
    )
    assert describe(sfnc2_camera.get_node("TriggerSoftware")).kind == "command"
    assert read_feature_tree(sfnc2_camera).features == {}  # no Root category in the double


class CameraControlsMapWithout:
    """A view of a node map that hides one node."""

    def __init__(self, inner, hidden: str) -> None:
        self._inner, self._hidden = inner, hidden

    def has_node(self, name: str) -> bool:
        return name != self._hidden and self._inner.has_node(name)

    def get_node(self, name: str):
        return self._inner.get_node(name)
