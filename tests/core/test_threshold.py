"""The FRR / escape trade-off threshold and the uncertainty the number of good images leaves."""

import numpy as np
import pytest

from draem_core.calibration import Calibration
from draem_core.threshold import (
    OUTLIER_Z,
    TradeOff,
    calibrate_tradeoff,
    frr_upper_bound,
    threshold_at,
    trade_off,
)


@pytest.mark.parametrize(("k", "n", "bound"), [(0, 20, 0.1391), (0, 300, 0.00994), (2, 100, 0.0616), (5, 5, 1.0)])
def test_clopper_pearson_upper_bound(k, n, bound):
    assert frr_upper_bound(k, n) == pytest.approx(bound, abs=2e-4)


def _logit_normal(n, seed, mu=-2.0, sd=0.5):
    z = np.random.default_rng(seed).normal(mu, sd, n)
    return 1 / (1 + np.exp(-z))


def test_with_few_good_images_the_threshold_passes_all_of_them():
    good = _logit_normal(24, 0)
    assert threshold_at(good, 0.01) > good.max()


def test_with_many_good_images_the_threshold_meets_the_target_on_fresh_parts():
    t = threshold_at(_logit_normal(3000, 1), 0.01)
    fresh = _logit_normal(200_000, 2)
    assert 0.006 < np.mean(fresh >= t) < 0.015


def test_a_long_median_to_max_spread_no_longer_pushes_the_threshold_past_every_defect():
    # ball-screw-like: good scores 0.1-0.54, defects 0.5-0.8 (docs/benchmarks.md §1: old threshold 0.87)
    rng = np.random.default_rng(3)
    good = np.r_[rng.uniform(0.1, 0.3, 23), 0.54]
    defects = rng.uniform(0.5, 0.8, 100)
    cal, tradeoff = calibrate_tradeoff(good, defects, None, 0.01)
    assert cal.threshold < 0.7 and tradeoff.chosen.escape_synthetic < 0.7
    assert isinstance(Calibration.from_dict(cal.to_dict()), Calibration)


def test_trade_off_rows_move_together_and_survive_json():
    rng = np.random.default_rng(4)
    good, synth, marked = rng.beta(2, 8, 60), rng.beta(5, 3, 200), rng.beta(6, 3, 10)
    t = trade_off(good, synth, marked, 0.02)
    thresholds = [p.threshold for p in t.points]
    escapes = [p.escape_synthetic for p in t.points]
    assert thresholds == sorted(thresholds, reverse=True) and escapes == sorted(escapes, reverse=True)
    assert t.chosen.target_frr == 0.02 and t.n_marked == 10 and t.chosen.escape_marked is not None
    assert TradeOff.from_dict(t.to_dict()) == t
    assert "<- default" in t.table()


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        trade_off(np.array([]))
    with pytest.raises(ValueError):
        trade_off(np.array([0.1, np.nan]))
    with pytest.raises(ValueError):
        trade_off(np.array([0.1, 0.2]), target_frr=0.6)


def test_one_held_out_image_far_above_the_rest_is_set_aside_and_reported():
    # the held-out good scores of the ball-screw model of docs/benchmarks.md §8 (100 steps, normalized-topk)
    good = np.array([0.162, 0.166, 0.166, 0.169, 0.174, 0.175, 0.175, 0.178, 0.179, 0.183, 0.184, 0.19, 0.197, 0.199,
                     0.199, 0.2, 0.209, 0.226, 0.229, 0.229, 0.238, 0.243, 0.383, 0.6])  # fmt: skip
    t = trade_off(good, np.linspace(0.3, 0.7, 80), None, 0.01)
    assert t.n_outliers == 1 and 0.383 < t.chosen.threshold < 0.6  # 0.6 is 9.8 robust SDs up, 0.383 is 5.1
    assert t.chosen.frr_heldout == pytest.approx(1 / 24)
    cal, _ = calibrate_tradeoff(good, None, None, 0.01)
    assert "1 held-out good image(s) score far above" in cal.note and "1 far above the rest" in cal.method
    assert trade_off(good[:6]).n_outliers == 0  # too few images to call any an outlier


def test_a_tail_of_several_far_scores_is_not_set_aside():
    # a tightly bunched bulk with a good tail of three (the shape of the ball screw's seed-1 held-out scores, §8):
    # each of the three is more than OUTLIER_Z robust SDs up, yet setting them aside rejected 12.5 % held-out
    bulk = [0.198, 0.206, 0.208, 0.209, 0.21, 0.21, 0.211, 0.211, 0.212, 0.212, 0.213, 0.213, 0.214, 0.214, 0.215, 0.216,
            0.217, 0.219, 0.222, 0.229, 0.238]  # fmt: skip
    good = np.array([*bulk, 0.264, 0.281, 0.337])
    logits = np.log(good / (1 - good))
    mad = 1.4826 * np.median(np.abs(logits - np.median(logits)))
    assert np.sum(logits > np.median(logits) + OUTLIER_Z * mad) == 3  # the robust rule alone flags all three
    t = trade_off(good, None, None, 0.01)
    assert t.n_outliers == 0 and t.chosen.threshold > 0.337 and t.chosen.frr_heldout == 0.0
