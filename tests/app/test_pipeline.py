"""The Qt-free inspection pipeline on real images and a real model: verdicts, trace, NG images, swaps."""

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
from draem_core.errors import ModelFileError
from draem_core.imageio import read_image
from draem_core.inspector import Inspector

FAST = PipelineConfig(wait_timeout_s=0.05, source_poll_s=0.05, stop_timeout_s=5.0)


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
    pipeline = InspectionPipeline(folder_source, inspector, trace=trace, ng_store=ng, config=FAST)
    pipeline.start()
    try:
        wait_until(lambda: pipeline.stats().inspected >= 3)
        ok = pipeline.latest_result()
        assert ok is not None and ok.verdict == "OK"  # the calibrated threshold is above good scores
        assert ng.saved == 0
        low = ok.score * 0.5  # the operator raises the sensitivity: every part is now NG
        pipeline.set_threshold(low)
        wait_until(lambda: pipeline.latest_result() is not None and pipeline.latest_result().is_ng)
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
            "SELECT frame_id, camera, model_name, verdict, threshold, score, normalized FROM inspections ORDER BY id"
        )
        .fetchall()
    )
    assert len(rows) == trace.written >= 4
    verdicts = [r[3] for r in rows]
    assert verdicts[0] == "OK" and verdicts[-1] == "NG" and "NG" in verdicts
    assert all(r[4] == pytest.approx(low) for r in rows if r[3] == "NG")
    assert all(r[1].endswith(".jpg") for r in rows)  # the folder source names each frame by its file
    assert rows[0][2] == inspector.meta.name
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_corrupt_model_keeps_the_previous_one(
    folder_source, inspector, tiny_model: Path, tmp_path: Path
) -> None:
    errors: list[tuple[str, BaseException]] = []
    pipeline = InspectionPipeline(
        folder_source, inspector, config=FAST, on_error=lambda w, e: errors.append((w, e))
    )
    pipeline.start()
    try:
        wait_until(lambda: pipeline.stats().inspected >= 1)
        corrupt = tmp_path / "corrupt.safetensors"
        corrupt.write_bytes(tiny_model.read_bytes()[:500])
        future = pipeline.swap_model(corrupt)
        with pytest.raises(ModelFileError):
            future.result(timeout=30)
        assert errors and errors[-1][0] == "model" and str(corrupt) in str(errors[-1][1])
        assert pipeline.inspector is inspector
        done = pipeline.stats().inspected
        wait_until(lambda: pipeline.stats().inspected > done)  # still inspecting with the old model

        copy = tmp_path / "copy.safetensors"
        shutil.copy(tiny_model, copy)
        new = pipeline.swap_model(copy).result(timeout=30)
        wait_until(lambda: pipeline.inspector is new)
    finally:
        pipeline.stop()


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
        assert pipeline.latest_result() is None and pipeline.stats().inspected == 0
        assert pipeline.threshold is None and pipeline.stats().device == ""
    finally:
        assert pipeline.stop()
    assert not pipeline.running


def test_inspecting_off_and_roi(folder_source, inspector) -> None:
    pipeline = InspectionPipeline(folder_source, inspector, config=FAST, roi=(10, 20, 200, 100))
    pipeline.start()
    try:
        wait_until(lambda: pipeline.latest_result() is not None)
        result = pipeline.latest_result()
        assert result.roi == (10, 20, 200, 100)
        assert result.anomaly_map[:20].max() == 0.0 and result.anomaly_map[20:120, 10:210].min() > 0.0
        pipeline.set_inspecting(False)
        wait_until(lambda: pipeline.latest() is not None and pipeline.latest().result is None)
        assert not pipeline.inspecting
    finally:
        pipeline.stop()
