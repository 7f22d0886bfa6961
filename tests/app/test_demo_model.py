"""The bundled demo model: it loads without pickle, is calibrated, and judges demo-line parts."""

import pytest

from app.paths import bundled_model
from app.sources.demo_line import DemoLine, DemoLineConfig
from draem_core.inspector import Inspector


@pytest.fixture(scope="module")
def inspector():
    path = bundled_model()
    assert path.is_file(), f"bundled model missing at {path}"
    return Inspector.from_file(path, device="cpu")


def _frame(kind: str | None, seed: int = 11):
    """The first frame of a fixed demo line whose label is ``kind`` (None = good)."""
    line = DemoLine(DemoLineConfig(seed=seed, defect_rate=0.5, kinds=(kind,) if kind else ("contamination",)))
    index = next(i for i in range(100) if line.plan(i) == kind)
    part, label = line.render(index)
    return part, label


def test_bundled_model_describes_itself(inspector):
    meta = inspector.meta
    assert meta.model.preset == "cpu" and (meta.model.image_height, meta.model.image_width) == (256, 256)
    assert meta.roi == (112, 32, 416, 416)  # the part's region of the 640x480 demo frames
    assert inspector.calibration is not None and 0 < inspector.threshold < 1
    assert meta.training["n_holdout"] > 0 and meta.dataset_fingerprint
    assert inspector.aligner is not None and inspector.aligner.frame_shape == (480, 640)  # it aligns parts first


def test_passes_a_good_part(inspector):
    part, label = _frame(None)
    assert label == "good"
    result = inspector.inspect(part.image)
    assert result.verdict == "OK", result.score
    assert result.roi == inspector.meta.roi and result.anomaly_map.shape == part.image.shape[:2]


def test_flags_a_contaminated_part_where_the_defect_is(inspector):
    part, label = _frame("contamination")
    assert label == "contamination"
    result = inspector.inspect(part.image)
    assert result.verdict == "NG", result.score
    inside = result.anomaly_map[part.mask > 0].mean()
    outside = result.anomaly_map[part.mask == 0].mean()
    assert inside > 5 * outside  # the heatmap sits on the defect


def test_flags_a_part_whose_bolt_hole_was_never_drilled(inspector):
    """A missing feature (not a surface defect) is found because the part is aligned before inspection."""
    part, label = _frame("missing_hole")
    assert label == "missing_hole"
    result = inspector.inspect(part.image)
    assert result.verdict == "NG", result.score
    assert result.anomaly_map[part.mask > 0].mean() > 5 * result.anomaly_map[part.mask == 0].mean()


def test_every_defect_of_the_line_lies_inside_the_models_region(inspector):
    """The region (part centre ± the line's largest shift + the flange radius) never cuts a defect off."""
    x, y, w, h = inspector.meta.roi
    line = DemoLine(DemoLineConfig(seed=3, defect_rate=1.0))
    for i in range(24):
        part, label = line.render(i)
        assert part.image.shape[:2] == (480, 640)
        ys, xs = (part.mask > 0).nonzero()
        assert len(xs), label
        assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + h, label
