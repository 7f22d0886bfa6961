"""Folder and video sources, and the source factory."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from camera_helpers import wait_until

from app.sources.base import FrameSource, SourceState
from app.sources.errors import SourceError
from app.sources.factory import open_source
from app.sources.folder import FolderSource, FolderSourceConfig
from app.sources.video import VideoSource, VideoSourceConfig
from draem_core.imageio import write_image_atomic


def collect(source, count: int) -> list:
    frames = []
    for _ in range(count * 20):
        frame = source.wait_latest(1.0)
        if frame is not None:
            frames.append(frame)
        if len(frames) == count:
            return frames
    pytest.fail(f"only {len(frames)} frames; {source.stats()}")


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "imgs"
    for i, value in enumerate((10, 20, 30)):
        write_image_atomic(folder / f"img{i}.png", np.full((6, 9, 3), value, np.uint8))
    (folder / "img1b.png").write_bytes(b"not a png")  # sorts between img1 and img2
    return folder


def test_folder_loops_and_counts_unreadable(image_folder):
    source = FolderSource(FolderSourceConfig(str(image_folder), fps=200.0))
    assert isinstance(source, FrameSource)
    source.start()
    try:
        frames = collect(source, 5)
    finally:
        source.stop()
    values = [int(f.image[0, 0, 0]) for f in frames]
    assert values[:5] == [10, 20, 30, 10, 20] or sorted(set(values)) == [10, 20, 30]
    assert [f.frame_id for f in frames] == sorted(f.frame_id for f in frames)
    stats = source.stats()
    assert stats.extra["unreadable"] == 1 and "img1b.png" in stats.extra["last_unreadable"]
    assert stats.state == SourceState.OPEN and stats.last_error == ""
    assert frames[0].source_id.endswith("img0.png")
    source.close()


def test_folder_without_loop_stops_and_errors_are_named(image_folder, tmp_path):
    source = FolderSource(FolderSourceConfig(str(image_folder), fps=500.0, loop=False))
    source.start()
    wait_until(lambda: source.stats().state == SourceState.OPEN)
    assert source.stats().received == 3
    source.close()
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="empty: folder holds no images"):
        FolderSource(FolderSourceConfig(str(tmp_path / "empty"))).open()
    with pytest.raises(SourceError, match="nowhere: image folder does not exist"):
        FolderSource(FolderSourceConfig(str(tmp_path / "nowhere"))).open()


def test_a_file_name_that_is_not_utf8_gives_a_storable_source_id(tmp_path):
    import os
    import sqlite3

    folder = tmp_path / "imgs"
    write_image_atomic(os.fsdecode(os.fsencode(folder) + b"/pi\xe8ce.png"), np.full((6, 9, 3), 7, np.uint8))
    source = FolderSource(FolderSourceConfig(str(folder), fps=200.0))
    source.start()
    try:
        frame = collect(source, 1)[0]
    finally:
        source.close()
    assert frame.source_id.endswith("pi\\xe8ce.png")  # shown escaped
    sqlite3.connect(":memory:").execute("SELECT ?", (frame.source_id,))  # the trace can store it


def test_latest_slot_counts_unread_frames_as_dropped(image_folder):
    source = FolderSource(FolderSourceConfig(str(image_folder), fps=200.0))
    source.start()
    wait_until(lambda: source.stats().received >= 6)
    source.stop()
    stats = source.stats()
    assert stats.dropped == stats.received - 1  # nobody read: all but the newest were overwritten
    assert source.latest() is not None and source.latest() is None  # the newest once, then nothing new
    source.close()


def write_video(path, count=6, size=(32, 24)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for i in range(count):
        bgr = np.zeros((size[1], size[0], 3), np.uint8)
        bgr[:, :, 2] = 40 * i  # red channel in BGR order grows per frame
        writer.write(bgr)
    writer.release()


def test_video_is_rgb_loops_and_uses_file_rate(tmp_path):
    path = tmp_path / "clip.avi"
    write_video(path)
    assert VideoSource(VideoSourceConfig(str(path))).fps == pytest.approx(10.0)
    source = VideoSource(VideoSourceConfig(str(path), fps=300.0))
    source.start()
    try:
        frames = collect(source, 9)
    finally:
        source.close()
    assert frames[0].image.shape == (24, 32, 3)
    # The latest-frame slot may drop frames on a busy machine: each frame names its index in the file.
    index = [int(f.source_id.rsplit("#", 1)[1]) for f in frames]
    assert all(f.source_id.startswith(str(path)) for f in frames)
    for i, frame in zip(index, frames, strict=True):
        assert abs(int(frame.image[..., 0].mean()) - 40 * i) <= 3  # red is channel 0: RGB order
        assert int(frame.image[..., 2].mean()) <= 3
    assert source.stats().extra["loops"] >= 1  # 9 frames from a 6-frame file
    assert any(b < a for a, b in zip(index, index[1:], strict=False))  # it went back to the start


def test_video_errors_are_named(tmp_path):
    with pytest.raises(SourceError, match="missing.avi: video file does not exist"):
        VideoSource(VideoSourceConfig(str(tmp_path / "missing.avi")))
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(SourceError, match="bad.avi: (cannot open video|video holds no readable frame)"):
        VideoSource(VideoSourceConfig(str(bad))).open()


def test_factory_specs(tmp_path, image_folder):
    write_video(tmp_path / "v.avi")
    assert isinstance(open_source(f"folder:{image_folder}", fps=3.0), FolderSource)
    assert open_source(f"video:{tmp_path / 'v.avi'}", loop=False).config.loop is False
    sim = open_source("sim:2")
    assert sim.config.serial == "2" and sim.config.producers[0].endswith("viky.cti")
    assert open_source("sim").config.serial is None
    camera = open_source("12345678")
    assert camera.config.serial == "12345678" and camera.stats().state == SourceState.CLOSED  # not opened yet
    with pytest.raises(SourceError, match="folder: needs a path"):
        open_source("folder:")
    with pytest.raises(SourceError, match="no source given"):
        open_source("  ")


def test_factory_demo_line():
    demo_line = pytest.importorskip("app.sources.demo_line")
    source = open_source("demo")
    assert isinstance(source, demo_line.DemoLine) and isinstance(source, FrameSource)
