"""Collecting a dataset: manifest, captures, near-duplicates, import, auto-capture from a real source."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from app.pipeline.record import InspectionRecord, LiveResult
from app.retrain.autocapture import AutoCaptureConfig, auto_capture
from app.retrain.collect import MANIFEST, Dataset, import_folder
from app.sources.base import Frame
from app.sources.folder import FolderSource, FolderSourceConfig
from draem_core.errors import DatasetError
from draem_core.imageio import read_image


def test_captured_frames_are_listed_with_their_provenance(tmp_path: Path, good_paths: list[Path]) -> None:
    ds = Dataset.create(tmp_path / "flange")
    image = read_image(good_paths[0])
    entry = ds.add_frame(image, source="SN123", camera_settings={"ExposureTime": 800.0}, frame_id=41)
    assert np.array_equal(read_image(ds.path(entry)), image)  # lossless
    again = Dataset.open(tmp_path / "flange")
    (listed,) = again.entries
    assert (listed.source, listed.frame_id, listed.camera_settings) == ("SN123", 41, {"ExposureTime": 800.0})
    assert listed.captured.endswith("Z") and listed.mark == "good"
    assert not list((tmp_path / "flange").glob(".*.tmp"))  # atomic writes leave no temp files


def test_near_duplicates_are_flagged_not_dropped(tmp_path: Path, good_paths: list[Path]) -> None:
    ds = Dataset.create(tmp_path / "d")
    image = read_image(good_paths[0])
    first = ds.add_frame(image)
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    brighter = np.clip(image.astype(np.int16) + 8, 0, 255).astype(np.uint8)
    assert ds.add_frame(noisy).near_duplicate_of == first.file  # same part, sensor noise
    assert ds.add_frame(brighter).near_duplicate_of == first.file  # same part, light drifted
    others = [ds.add_frame(read_image(p)) for p in good_paths[1:6]]  # different parts of the same product
    assert [e.near_duplicate_of for e in others] == [None] * 5
    assert len(Dataset.open(tmp_path / "d").entries) == 8


def test_import_reports_unreadable_files(tmp_path: Path, good_paths: list[Path]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for p in good_paths[:3]:
        shutil.copy(p, src / p.name)
    (src / "broken.png").write_bytes(b"not an image")
    ds = Dataset.create(tmp_path / "d")
    results = list(import_folder(ds, src))
    assert [r[:2] for r in results] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    problems = [r[3] for r in results if r[3]]
    assert len(problems) == 1 and "broken.png" in problems[0]
    assert len(ds.entries) == 3 and all(e.source.startswith("import:") for e in ds.entries)
    assert (ds.folder / ds.entries[0].file).read_bytes() == (
        src / ds.entries[0].source.split("/")[-1]
    ).read_bytes()
    with pytest.raises(DatasetError, match="missing: folder not found"):
        list(import_folder(ds, tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: no images"):
        list(import_folder(ds, tmp_path / "empty"))


def test_marks_persist_and_bad_folders_are_refused(tmp_path: Path, good_paths: list[Path]) -> None:
    ds = Dataset.create(tmp_path / "d")
    a, b = ds.add_frame(read_image(good_paths[0])), ds.add_frame(read_image(good_paths[1]))
    ds.set_marks(defective={ds.path(a)}, deleted={ds.path(b)})
    again = Dataset.open(ds.folder)
    assert again.marked("defective") == {ds.path(a)} and again.marked("deleted") == {ds.path(b)}
    (tmp_path / "loose").mkdir()
    shutil.copy(good_paths[0], tmp_path / "loose" / "x.jpg")
    with pytest.raises(DatasetError, match="no manifest.json; import it"):
        Dataset.create(tmp_path / "loose")
    (ds.folder / MANIFEST).write_text("[1, 2")
    with pytest.raises(DatasetError, match="manifest is unreadable"):
        Dataset.open(ds.folder)
    (ds.folder / MANIFEST).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(DatasetError, match="expected 'draem-inspect-dataset'"):
        Dataset.open(ds.folder)


def test_auto_capture_from_a_live_folder_source(tmp_path: Path, ball_screw: Path) -> None:
    source = FolderSource(FolderSourceConfig(str(ball_screw / "test" / "good"), fps=30.0))
    source.open()
    source.start()
    try:
        ds = Dataset.create(tmp_path / "d")
        events = list(auto_capture(ds, lambda: shown(source.latest()), AutoCaptureConfig(count=3, every_s=0.2),
                                   camera_settings=lambda: {"fps": 30.0}))  # fmt: skip
    finally:
        source.stop()
        source.close()
    assert [e.kind for e in events] == ["captured"] * 3 + ["done"]
    ids = [e.entry.frame_id for e in events[:3]]
    assert len(set(ids)) == 3 and ids == sorted(ids)  # three distinct frames, in order
    assert ids[1] - ids[0] >= 4  # one every 0.2 s at 30 fps: frames in between were not stored
    assert all(e.source.endswith(".jpg") and e.camera_settings == {"fps": 30.0} for e in ds.entries)


def shown(frame: Frame | None, verdict: str | None = None) -> LiveResult | None:
    """A live publication of ``frame`` with a record of ``verdict`` (None: shown without a verdict)."""
    if frame is None:
        return None
    record = None
    if verdict is not None:
        record = InspectionRecord(time=0.0, frame_id=frame.frame_id, camera="cam", model_name="m", model_version="1",
                                  score=0.1, normalized=0.2, threshold=0.3, verdict=verdict, roi=None, latency_ms=1.0)  # fmt: skip
    return LiveResult(frame.frame_id, frame, None, record, 0.0, 0.0)


def test_auto_capture_only_ok_frames(tmp_path: Path, good_paths: list[Path]) -> None:
    # Each publication carries its frame's own verdict: the capture needs no proof that they belong together.
    image = read_image(good_paths[0])
    verdicts = ["OK", "NG", "NOT_JUDGED", "OK", None, "OK"]
    queue = [shown(Frame(image, i, time.monotonic()), v) for i, v in enumerate(verdicts)]

    def grab() -> LiveResult | None:
        return queue.pop(0) if queue else None

    ds = Dataset.create(tmp_path / "d")
    config = AutoCaptureConfig(count=2, every_s=0.0, only_ok=True, give_up_s=1.0)
    events = list(auto_capture(ds, grab, config))
    assert [e.entry.frame_id for e in events if e.kind == "captured"] == [0, 3]
    assert [e.message for e in events if e.kind == "skipped"] == ["frame 1: judged NG", "frame 2: judged NOT_JUDGED"]
    assert events[-1].kind == "done" and len(ds.entries) == 2
    queue[:] = [shown(Frame(image, 9, time.monotonic()), None)]
    unjudged = list(auto_capture(ds, grab, AutoCaptureConfig(count=1, only_ok=True, give_up_s=0.2)))
    assert unjudged[0].message == "frame 9: no verdict (no model is inspecting)" and unjudged[-1].kind == "stalled"
    stalled = list(auto_capture(ds, lambda: None, AutoCaptureConfig(count=1, give_up_s=0.2)))
    assert [e.kind for e in stalled] == ["stalled"]
