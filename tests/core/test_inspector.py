import numpy as np
import pytest

from draem_core.calibration import normalise
from draem_core.imageio import read_image
from draem_core.inspector import Inspector


@pytest.fixture(scope="module")
def inspector(tiny_model):
    return Inspector.from_file(tiny_model, device="cpu")


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((50, 70), np.uint8),
        np.full((120, 90, 3), 200, np.uint8),
        np.full((64, 64, 4), 90, np.uint8),
        (np.arange(80 * 100, dtype=np.uint16).reshape(80, 100) % 4096),
    ],
    ids=["mono8", "rgb8", "rgba8", "mono12in16"],
)
def test_any_frame_kind_gives_a_map_at_frame_size(inspector, frame):
    r = inspector.inspect(frame)
    assert r.anomaly_map.shape == frame.shape[:2]
    assert r.anomaly_map.dtype == np.float32
    assert 0.0 <= r.anomaly_map.min() <= r.anomaly_map.max() <= 1.0
    assert 0.0 <= r.score <= 1.0
    assert r.normalized == pytest.approx(normalise(r.score, inspector.threshold))
    assert r.verdict == ("NG" if r.score >= inspector.threshold else "OK")


def test_batch_equals_single(inspector, good_paths):
    frames = [read_image(p) for p in good_paths[:3]]
    batch = inspector.inspect_batch(frames)
    for f, b in zip(frames, batch, strict=True):
        assert b.score == pytest.approx(inspector.inspect(f).score, abs=1e-5)


def test_roi_map_is_zero_outside(inspector, good_paths):
    frame = read_image(good_paths[0])
    roi = (100, 50, 400, 200)
    r = inspector.inspect(frame, roi=roi)
    assert r.anomaly_map.shape == frame.shape[:2]
    outside = r.anomaly_map.copy()
    outside[50:250, 100:500] = 0
    assert outside.max() == 0.0
    assert r.anomaly_map[50:250, 100:500].max() > 0.0
    assert r.roi == roi


def test_threshold_changes_the_verdict(inspector, good_paths):
    frame = read_image(good_paths[0])
    score = inspector.inspect(frame).score
    old = inspector.threshold
    try:
        inspector.threshold = max(score - 1e-3, 1e-6)
        assert inspector.inspect(frame).is_ng
        inspector.threshold = min(score + 1e-3, 0.999)
        assert not inspector.inspect(frame).is_ng
    finally:
        inspector.threshold = old
