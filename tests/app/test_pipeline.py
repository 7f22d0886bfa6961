"""The Qt-free inspection pipeline on real images and a real model: verdicts, trace, NG images, the verdict contract."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from app.ng_store import FRAME_SUFFIX, OVERLAY_SUFFIX, NgStore, NgStoreConfig
from app.pipeline import InspectionPipeline, PipelineConfig
from app.sources.base import Frame, SourceState, SourceStats
from app.sources.folder import FolderSource, FolderSourceConfig
from app.trace import TraceWriter
from draem_core.imageio import read_image
from draem_core.inspector import Inspector

FAST = PipelineConfig(wait_timeout_s=0.05, source_poll_s=0.05, stop_timeout_s=5.0)


def result_of(pipeline: InspectionPipeline):
    live = pipeline.latest()
    return live.result if live is not None else None


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


class LosableFolder(FolderSource):
    """A real folder source whose connection the test can pull and restore."""

    def __init__(self, config: FolderSourceConfig) -> None:
        super().__init__(config)
        self.lost = False

    def wait_latest(self, timeout: float) -> Frame | None:
        if self.lost:
            time.sleep(timeout)
            return None
        return super().wait_latest(timeout)

    def stats(self) -> SourceStats:
        base = super().stats()
        if self.lost:
            return SourceStats(
                state=SourceState.RECONNECTING, last_error="cable pulled", received=base.received
            )
        return base


@pytest.fixture()
def image_folder(tmp_path: Path, good_paths: list[Path]) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for p in good_paths[:3]:
        shutil.copy(p, folder / p.name)
    return folder


@pytest.fixture()
def folder_source(image_folder: Path):
    source = LosableFolder(FolderSourceConfig(path=str(image_folder), fps=15.0))
    source.start()
    yield source
    source.close()


@pytest.fixture()
def inspector(tiny_model: Path) -> Inspector:
    return Inspector.from_file(tiny_model, device="cpu")


def test_frames_flow_to_verdicts_trace_and_ng_images(folder_source, inspector, tmp_path: Path) -> None:
    trace = TraceWriter(tmp_path / "trace.sqlite")
    ng = NgStore(NgStoreConfig(tmp_path / "ng", max_per_second=50.0))
    pipeline = InspectionPipeline(folder_source, inspector, outputs=[trace], ng_store=ng, config=FAST)
    pipeline.start()
    try:
        wait_until(lambda: pipeline.stats().inspected >= 3)
        ok = result_of(pipeline)
        assert ok is not None and ok.verdict == "OK"  # the calibrated threshold is above good scores
        assert ng.saved == 0
        low = ok.score * 0.5  # the operator raises the sensitivity: every part is now NG
        pipeline.set_threshold(low)
        wait_until(lambda: result_of(pipeline) is not None and result_of(pipeline).is_ng)
        wait_until(lambda: ng.saved >= 1)
        live = pipeline.latest()
        assert live.frame.image.shape[:2] == live.result.anomaly_map.shape
        assert live.record.verdict == "NG" and live.record.threshold == pytest.approx(low)
    finally:
        assert pipeline.stop()
    ng.close()
    trace.close()

    frames = sorted((tmp_path / "ng").glob(f"*{FRAME_SUFFIX}"))
    overlays = sorted((tmp_path / "ng").glob(f"*{OVERLAY_SUFFIX}"))
    assert len(frames) == len(overlays) == ng.saved
    saved = read_image(frames[0])
    assert saved.shape == live.frame.image.shape  # the full frame, losslessly
    assert read_image(overlays[0]).shape == saved.shape

    rows = (
        sqlite3.connect(tmp_path / "trace.sqlite")
        .execute(
            "SELECT frame_id, image_source, model_name, verdict, threshold, score, normalized, camera"
            " FROM inspections ORDER BY id"
        )
        .fetchall()
    )
    assert len(rows) == trace.written >= 4
    verdicts = [r[3] for r in rows]
    assert verdicts[0] == "OK" and verdicts[-1] == "NG" and "NG" in verdicts
    assert all(r[4] == pytest.approx(low) for r in rows if r[3] == "NG")
    assert all(r[1].endswith(".jpg") for r in rows)  # each frame names its file
    assert {r[7] for r in rows} == {folder_source.name}  # and the camera is the source, the same for every frame
    assert rows[0][2] == inspector.meta.name
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_source_loss_shows_in_stats_and_recovers(folder_source, inspector) -> None:
    pipeline = InspectionPipeline(folder_source, inspector, config=FAST)
    pipeline.start()
    try:
        wait_until(lambda: pipeline.stats().inspected >= 1)
        folder_source.lost = True
        wait_until(lambda: pipeline.stats().source_state == SourceState.RECONNECTING)
        stats = pipeline.stats()
        assert stats.source_lost and stats.source_error == "cable pulled"
        folder_source.lost = False
        done = pipeline.stats().inspected
        wait_until(
            lambda: pipeline.stats().source_state == SourceState.LIVE and pipeline.stats().inspected > done
        )
    finally:
        pipeline.stop()


def test_newest_frame_wins_and_skips_are_counted(image_folder: Path, inspector) -> None:
    source = FolderSource(FolderSourceConfig(path=str(image_folder), fps=200.0))  # faster than the CPU model
    source.start()
    pipeline = InspectionPipeline(source, inspector, config=FAST)
    pipeline.start()
    try:
        wait_until(lambda: pipeline.stats().inspected >= 4)
        stats = pipeline.stats()
        delivered = source.stats().received  # read after: frames the source has produced so far
        assert stats.dropped > 0
        assert stats.inspected + stats.dropped <= delivered
        assert stats.latency_p95_ms >= stats.latency_p50_ms > 0
        assert stats.device == "cpu" and stats.yield_pct == 100.0
        pipeline.reset_counters()
        reset = pipeline.stats()
        assert reset.inspected <= 1 and reset.dropped <= stats.dropped
    finally:
        pipeline.stop()
        source.close()


def test_without_model_frames_are_shown_but_not_judged(folder_source) -> None:
    pipeline = InspectionPipeline(folder_source, None, config=FAST)
    pipeline.start()
    try:
        wait_until(lambda: pipeline.latest() is not None and pipeline.latest().seq >= 2)
        assert result_of(pipeline) is None and pipeline.stats().inspected == 0
        assert pipeline.threshold is None and pipeline.stats().device == ""
    finally:
        assert pipeline.stop()
    assert not pipeline.running


def test_inspecting_off_and_roi(folder_source, inspector) -> None:
    pipeline = InspectionPipeline(folder_source, inspector, config=FAST, roi=(10, 20, 200, 100))
    pipeline.start()
    try:
        wait_until(lambda: result_of(pipeline) is not None)
        result = result_of(pipeline)
        assert result.roi == (10, 20, 200, 100)
        assert result.anomaly_map[:20].max() == 0.0 and result.anomaly_map[20:120, 10:210].min() > 0.0
        pipeline.set_inspecting(False)
        wait_until(lambda: pipeline.latest() is not None and pipeline.latest().result is None)
        assert not pipeline.inspecting
    finally:
        pipeline.stop()


def test_a_recipe_never_shows_its_model_with_the_old_threshold(folder_source, tiny_model: Path) -> None:
    """The model and its threshold change in one step: a reader (the window) never sees the new model at the
    threshold it had before, which used to happen between the two assignments."""
    pipeline = InspectionPipeline(folder_source, Inspector.from_file(tiny_model, device="cpu"), config=FAST)
    seen: list[bool] = []

    class Watched(Inspector):
        def set_threshold(self, operator: float | None) -> None:
            seen.append(pipeline._inspector is self)  # already in use when its threshold changes: the race
            super().set_threshold(operator)

    new = Watched.from_file(tiny_model, device="cpu")
    assert new.threshold != pytest.approx(0.7)
    pipeline.apply_recipe("plc", new, 0.7, None)
    assert seen == [False]
    assert pipeline.next_inspector is new and pipeline.threshold == pytest.approx(0.7)
