"""The GenICam source against the real simulated producer (viky.cti), acquisition in its own process."""

from __future__ import annotations

import os
import signal
import statistics
import time

import numpy as np
import pytest
from camera_helpers import requires_simulator, wait_until

from app.camera.acquisition_process import AcquisitionConfig
from app.camera.errors import CameraError, FeatureError
from app.sources.base import FrameSource, SourceState

pytestmark = [pytest.mark.camera, requires_simulator]


def frames(source, count: int, timeout: float = 10.0) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        frame = source.wait_latest(0.5)
        if frame is not None:
            got.append(frame)
    assert len(got) == count, f"only {len(got)} of {count} frames; stats {source.stats()}"
    return got


def test_grab_frames_with_metadata(open_sim):
    source = open_sim("sim:1")
    assert isinstance(source, FrameSource)
    assert source.info["serial"] == "1" and source.info["model"] == "Viky"
    assert source.info["producer"].endswith("viky.cti")
    assert source.stats().state == SourceState.OPEN
    source.start()
    got = frames(source, 3)
    assert all(f.image.shape == (400, 400, 3) and f.image.dtype == np.uint8 for f in got)
    assert [f.frame_id for f in got] == sorted({f.frame_id for f in got})  # increasing, unique
    assert got[0].timestamp < got[-1].timestamp <= time.monotonic()
    assert {f.source_id for f in got} == {"1"}
    stats = source.stats()
    assert stats.state == SourceState.LIVE and stats.received >= 3 and stats.last_error == ""


def test_roi_and_pixel_format_take_effect(open_sim):
    source = open_sim("sim")
    assert source.set_feature("Width", "320") == 320
    assert source.set_feature("Height", 240) == 240
    source.set_feature("PixelFormat", "Mono8")
    source.start()
    frame = frames(source, 1)[0]
    assert frame.image.shape == (240, 320) and frame.image.dtype == np.uint8
    source.stop()
    source.control("set_roi", {"width": 200, "height": 120})
    source.start()
    assert frames(source, 1)[0].image.shape == (120, 200)
    with pytest.raises(FeatureError, match="Width: 1000 is above the maximum 800"):
        source.set_feature("Width", 1000)


def test_frame_rate_takes_effect(open_sim):
    source = open_sim("sim")
    intervals = {}
    for rate in (8.0, 50.0):
        assert source.control("set_frame_rate", rate) == rate
        source.start()
        got = frames(source, 6)
        source.stop()
        intervals[rate] = statistics.median(np.diff([f.timestamp for f in got]))
    assert 0.08 < intervals[8.0] < 0.5  # ~0.125 s between frames at 8 fps
    assert intervals[50.0] < intervals[8.0] / 2


def test_ring_grows_when_frames_do_not_fit(open_sim):
    source = open_sim("sim", ring_bytes=1000)  # far too small for 400x400 RGB
    source.start()
    assert frames(source, 2)[-1].image.shape == (400, 400, 3)
    stats = source.stats()
    assert stats.dropped >= 1 and stats.extra["lost_in_acquisition"] >= 1  # the frames that did not fit


def test_start_stop_repeatedly(open_sim):
    source = open_sim("sim:2")
    last_id = 0
    for _ in range(4):
        source.start()
        frame = frames(source, 1)[0]
        assert frame.frame_id > last_id
        last_id = frame.frame_id
        source.stop()
        assert source.stats().state == SourceState.OPEN
    assert source.stats().received >= 4


def test_killed_acquisition_process_comes_back(open_sim):
    source = open_sim("sim", restart_backoff_s=(0.1,))
    source.set_feature("Width", 256)
    source.start()
    before = frames(source, 1)[0]
    pid = source.stats().extra["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(
        lambda: source.stats().extra["process_restarts"] == 1 and source.stats().state == SourceState.LIVE
    )
    after = frames(source, 2)
    stats = source.stats()
    assert stats.extra["pid"] != pid and stats.reconnects == 1
    assert "exit code -9" in stats.last_error
    assert after[0].frame_id > before.frame_id  # ids never go back across a restart
    assert after[-1].image.shape == (400, 256, 3)  # the Width set before the crash was re-applied


def test_hung_acquisition_process_is_replaced(open_sim):
    source = open_sim("sim", watchdog_s=1.0, restart_backoff_s=(0.05,))
    source.start()
    frames(source, 1)
    pid = source.stats().extra["pid"]
    os.kill(pid, signal.SIGSTOP)  # frozen like a producer stuck in a driver call: no heartbeat
    wait_until(
        lambda: source.stats().extra["process_restarts"] == 1 and source.stats().state == SourceState.LIVE
    )
    assert source.stats().extra["pid"] != pid
    assert source.stats().last_error.startswith(
        "acquisition process hung (no heartbeat for 1 s) (exit code -9)"
    )
    assert len(frames(source, 2)) == 2


def test_unplugged_device_reconnects_with_backoff(open_sim):
    source = open_sim("sim")
    source.start()
    frames(source, 1)
    source.simulate_unplug(0.6)
    wait_until(lambda: source.stats().state == SourceState.RECONNECTING, timeout=5)
    wait_until(lambda: source.stats().state == SourceState.LIVE, timeout=10)
    assert frames(source, 2)[-1].image.shape == (400, 400, 3)
    stats = source.stats()
    assert stats.extra["device_reconnects"] == 1 and stats.extra["process_restarts"] == 0
    assert "not found" in stats.last_error or "device lost" in stats.last_error


def test_process_recycled_after_device_reopens(open_sim):
    source = open_sim(
        "sim", acquisition=AcquisitionConfig(recycle_after_reopens=1), restart_backoff_s=(0.05,)
    )
    source.start()
    pid = source.stats().extra["pid"]
    source.simulate_unplug(0.1)
    wait_until(
        lambda: source.stats().extra["process_restarts"] == 1 and source.stats().state == SourceState.LIVE
    )
    stats = source.stats()
    assert stats.extra["device_reconnects"] == 1 and stats.extra["pid"] != pid
    assert stats.last_error.startswith(
        "recycling the acquisition process after 1 device re-opens (exit code 0)"
    )
    assert len(frames(source, 2)) == 2


def test_feature_tree_and_settings_file(open_sim, tmp_path):
    source = open_sim("sim")
    tree = source.feature_tree()
    width = tree.features["Width"]
    assert (width.kind, width.access, width.minimum, width.maximum, width.visibility) == (
        "integer",
        "RW",
        100,
        800,
        "Beginner",
    )
    assert tree.features["PixelFormat"].entries == ("RGBa8", "Mono8")
    assert any(f.name == "AcquisitionFrameRate" for f in tree.search("framerate"))
    assert all(f.visibility == "Beginner" for _, f in tree.walk("Beginner"))
    source.set_feature("Width", 300)
    path = source.save_settings(tmp_path / "cam.json")
    source.set_feature("Width", 500)
    assert source.load_settings(path) == []
    assert source.get_feature("Width") == 300
    with pytest.raises(FeatureError, match="LineSelector: this camera has no such feature"):
        source.pulse_output("Line1", 0.01)  # the simulator has no digital outputs: named, not a crash
    with pytest.raises(FeatureError, match="TriggerSoftware: this camera has no such feature"):
        source.software_trigger()
    path.write_text('{"format": "something else"}')
    with pytest.raises(CameraError, match="not a camera settings file"):
        source.load_settings(path)


def test_unknown_serial_is_named():
    from app.sources.factory import open_source

    source = open_source("sim:no-such-serial")
    with pytest.raises(CameraError, match="no-such-serial.*not found \\(serial numbers present: 0, 1, 2\\)"):
        source.open()
    source.close()
