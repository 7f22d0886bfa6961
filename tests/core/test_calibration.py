"""Threshold calibration from good scores, the F1 threshold with defects, and the normalised score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from draem_core.calibration import Calibration, calibrate, normalise


def _good(n: int, seed: int = 0) -> np.ndarray:
    return 0.05 + np.random.default_rng(seed).exponential(0.02, n)


@pytest.mark.parametrize("n", [5, 20, 50, 150])
def test_threshold_above_every_good_score_when_target_below_one_over_n(n: int) -> None:
    good = _good(n)
    calibration = calibrate(good, target_frr=0.005)  # 0.005 < 1/n for every n here
    assert calibration.threshold > good.max()
    assert calibration.threshold > np.median(good)  # never the "minimum score" trap
    assert calibration.margin > 0


def test_margin_shrinks_as_good_images_grow() -> None:
    """With more good images the max is closer to the target quantile, so less extrapolation is needed."""
    small, large = calibrate(_good(20)), calibrate(_good(50))
    spread = lambda c: c.good_max - c.good_median  # noqa: E731
    assert small.margin / spread(small) > large.margin / spread(large)


def test_large_sample_uses_the_quantile() -> None:
    good = _good(20_000, seed=3)
    calibration = calibrate(good, target_frr=0.01)
    measured = float(np.mean(good >= calibration.threshold))
    assert 0.002 < measured <= 0.01  # near the target, not at the max
    assert calibration.threshold < good.max()


def test_explicit_margin_factor() -> None:
    good = _good(50)
    bare, wide = calibrate(good, margin=0.0), calibrate(good, margin=1.0)
    assert bare.threshold == pytest.approx(good.max() + 0.005)  # only the floor
    assert wide.threshold == pytest.approx(good.max() + (good.max() - np.median(good)))


def test_normalise_maps_threshold_to_half_and_is_monotonic() -> None:
    calibration = calibrate(_good(30))
    assert calibration.normalise(calibration.threshold) == 0.5
    raw = np.linspace(0, 1, 1001)
    norm = calibration.normalise(raw)
    assert norm[0] == 0.0 and norm[-1] == 1.0
    assert np.all(np.diff(norm) > 0)
    assert isinstance(normalise(0.2, 0.4), float) and normalise(0.2, 0.4) == pytest.approx(0.25)
    assert normalise(0.7, 0.4) == pytest.approx(0.75)
    assert calibration.is_defect(calibration.threshold) and not calibration.is_defect(calibration.good_max)


def test_no_defects_note_and_no_f1() -> None:
    calibration = calibrate(_good(30))
    assert calibration.n_defect == 0
    assert calibration.f1_threshold is None and calibration.escape_rate is None
    assert "No defective images" in calibration.note


def test_with_defects_f1_threshold_separates_them() -> None:
    good = _good(40)
    defect = np.random.default_rng(1).uniform(0.4, 0.9, 12)
    calibration = calibrate(good, defect)
    assert good.max() < calibration.f1_threshold <= defect.min()
    assert calibration.escape_rate == 0.0 and calibration.n_defect == 12
    assert "No defective images" not in calibration.note
    assert calibration.threshold == calibrate(good).threshold  # the threshold still follows the FRR target


def test_dict_round_trip_through_json() -> None:
    calibration = calibrate(_good(25), np.array([0.6, 0.7]))
    restored = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())) | {"future": 1})
    assert restored == calibration
    broken = calibration.to_dict()
    del broken["threshold"]
    with pytest.raises(ValueError, match="threshold"):
        Calibration.from_dict(broken)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one good"):
        calibrate([])
    with pytest.raises(ValueError, match="target"):
        calibrate(_good(10), target_frr=0.0)
    with pytest.raises(ValueError, match="NaN"):
        calibrate([0.1, float("nan")])
