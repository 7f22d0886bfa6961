"""Metrics against scikit-learn (tests only) and against hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from draem_core import metrics


def _tied_data(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.3
    scores = np.round(rng.random(n) + 0.4 * labels, 1)  # one decimal: many ties, within and across classes
    return labels, scores


@pytest.mark.parametrize("seed", range(5))
def test_auroc_and_ap_equal_sklearn_with_ties(seed: int) -> None:
    labels, scores = _tied_data(seed)
    assert metrics.auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert metrics.average_precision(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-9
    )


def test_pixel_scale_float32_matches_sklearn() -> None:
    rng = np.random.default_rng(7)
    labels = rng.random(400_000) < 0.02
    scores = (rng.random(400_000) * 0.8 + 0.3 * labels).astype(np.float16).astype(np.float32)  # ties
    assert metrics.auroc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert metrics.average_precision(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-9
    )


def test_roc_curve_has_the_sklearn_points() -> None:
    labels, scores = _tied_data(3, n=300)
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    sk_fpr, sk_tpr, _ = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)


def test_one_class_or_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        metrics.auroc([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="NaN"):
        metrics.auroc([0, 1], [0.1, np.nan])


def _two_regions() -> np.ndarray:
    mask = np.zeros((64, 64), dtype=bool)
    mask[4:24, 4:24] = True  # big region: 400 pixels
    mask[50:55, 50:55] = True  # small region: 25 pixels
    return mask


def test_aupro_perfect_map_is_one() -> None:
    mask = _two_regions()
    assert metrics.aupro([mask, np.zeros_like(mask)], [mask.astype(float), np.zeros(mask.shape)]) == 1.0


def test_aupro_weighs_regions_not_pixels() -> None:
    rng = np.random.default_rng(0)
    mask = _two_regions()
    amap = rng.uniform(0.1, 0.5, mask.shape)  # good pixels
    amap[4:24, 4:24] = 1.0  # the big region is found ...
    amap[50:55, 50:55] = 0.0  # ... the small one scores below every good pixel
    # Per region: 1 and 0 -> 0.5; pixel-weighted it would be 400 / 425 = 0.94.
    assert metrics.aupro([mask], [amap]) == pytest.approx(0.5, abs=0.01)


def test_aupro_random_map_is_low() -> None:
    rng = np.random.default_rng(1)
    masks = [_two_regions() for _ in range(3)]
    value = metrics.aupro(masks, [rng.random(m.shape) for m in masks])
    assert 0.1 < value < 0.2  # a random map has PRO ~= FPR: mean over [0, 0.3] is 0.15


def _exact_aupro(mask: np.ndarray, amap: np.ndarray, limit: float = 0.3) -> float:
    """Every distinct threshold, region by region, plain loops: slow but obviously right."""
    import cv2

    n, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    points = [(0.0, 0.0)]
    for t in np.unique(amap)[::-1]:
        hit = amap >= t
        fpr = hit[~mask].mean()
        pro = np.mean([hit[comp == r].mean() for r in range(1, n)])
        points.append((fpr, pro))
    xs, ys = np.array(points).T
    end = np.interp(limit, xs, ys)
    keep = xs <= limit
    xs, ys = np.r_[xs[keep], limit], np.r_[ys[keep], end]
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2) / limit)


def test_aupro_close_to_exact_curve() -> None:
    rng = np.random.default_rng(2)
    mask = _two_regions()
    amap = np.clip(rng.normal(0.3, 0.15, mask.shape) + 0.25 * mask, 0, 1).round(3)
    assert metrics.aupro([mask], [amap]) == pytest.approx(_exact_aupro(mask, amap), abs=0.01)


def test_rates_and_f1_threshold() -> None:
    good, defect = np.array([0.1, 0.2, 0.3]), np.array([0.6, 0.8])
    assert metrics.false_reject_rate(good, 0.3) == pytest.approx(1 / 3)  # score == threshold is NG
    assert metrics.escape_rate(defect, 0.7) == pytest.approx(0.5)
    threshold, f1 = metrics.f1_optimal_threshold(good, defect)
    assert good.max() < threshold <= defect.min()
    assert f1 == 1.0


def test_evaluate_scores_report() -> None:
    rng = np.random.default_rng(4)
    mask = _two_regions()
    masks = [np.zeros_like(mask), np.zeros_like(mask), mask]
    maps = [rng.uniform(0, 0.4, mask.shape) for _ in range(2)]
    maps.append(np.where(mask, 0.9, rng.uniform(0, 0.4, mask.shape)))
    report = metrics.evaluate_scores([0, 0, 1], [0.1, 0.2, 0.9], threshold=0.5, masks=masks, maps=maps)
    assert report.to_dict() == {
        "image_auroc": 1.0,
        "pixel_auroc": 1.0,
        "pixel_ap": 1.0,
        "aupro": 1.0,
        "threshold": 0.5,
        "false_reject_rate": 0.0,
        "escape_rate": 0.0,
        "n_good": 2,
        "n_defect": 1,
        "per_type": None,  # filled by draem_core.evaluate, which knows the types
        "paper_image_auroc": None,
        "scoring": "paper",
        "scoring_label": "paper w21",
    }
    bare = metrics.evaluate_scores([0, 1, 1], [0.3, 0.2, 0.9])
    assert bare.pixel_auroc is None and bare.aupro is None
    assert bare.threshold < 0.3 and bare.false_reject_rate == pytest.approx(1.0)  # F1 flags all three
    with pytest.raises(ValueError, match="threshold"):
        metrics.evaluate_scores([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="2 masks for 3 images"):
        metrics.evaluate_scores([0, 0, 1], [0.1, 0.2, 0.9], threshold=0.5, masks=masks[1:], maps=maps[1:])
    with pytest.raises(ValueError, match="shape"):
        metrics.evaluate_scores(
            [0, 0, 1], [0.1, 0.2, 0.9], threshold=0.5, masks=masks, maps=[m[:, :32] for m in maps]
        )
