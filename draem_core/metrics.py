"""Detection and localisation metrics on scores and anomaly maps, in plain NumPy.

Convention used everywhere in draem_core: a part is judged defective (NG) when ``score >= threshold``.

The ranking metrics split the scores by label and sort each class once, then count with ``searchsorted``.
That is exact with ties (it equals scikit-learn to rounding) and keeps memory near one copy of the scores,
so pixel metrics over tens of millions of pooled pixels (float32 scores, bool labels) stay affordable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import cv2
import numpy as np

AUPRO_THRESHOLDS = 500  # quantile-spaced thresholds for the PRO curve (MVTec uses a few hundred too)
AUPRO_FPR_LIMIT = 0.3  # MVTec AD integrates the PRO curve up to this false-positive rate


class _Split(NamedTuple):
    """Scores of each class, each sorted ascending."""

    pos: np.ndarray
    neg: np.ndarray


def _split(labels: np.ndarray, scores: np.ndarray) -> _Split:
    labels = np.asarray(labels).ravel().astype(bool, copy=False)
    scores = np.asarray(scores).ravel()
    if labels.shape != scores.shape:
        msg = f"labels ({labels.size}) and scores ({scores.size}) differ in length"
        raise ValueError(msg)
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        msg = "scores contain NaN"
        raise ValueError(msg)
    pos, neg = scores[labels], scores[~labels]
    pos.sort()
    neg.sort()
    return _Split(pos, neg)


def _count_at_least(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many of ``sorted_values`` are ``>= t`` for each threshold ``t`` (int64)."""
    return sorted_values.size - np.searchsorted(sorted_values, thresholds, side="left")


def _need_both(split: _Split, what: str) -> None:
    if split.pos.size == 0 or split.neg.size == 0:
        msg = f"{what} needs both defective and good samples (got {split.pos.size} and {split.neg.size})"
        raise ValueError(msg)


def _auroc(split: _Split) -> float:
    _need_both(split, "AUROC")
    # Mann-Whitney: each (defect, good) pair counts 1 if the defect scores higher, 1/2 on a tie.
    below = np.searchsorted(split.neg, split.pos, side="left").sum(dtype=np.int64)
    not_above = np.searchsorted(split.neg, split.pos, side="right").sum(dtype=np.int64)
    return float((int(below) + int(not_above)) / (2.0 * split.pos.size * split.neg.size))


def _average_precision(split: _Split) -> float:
    _need_both(split, "average precision")
    # Recall only moves at distinct defect scores: AP = sum over them of (recall step) * precision there.
    values, counts = np.unique(split.pos, return_counts=True)
    tp = _count_at_least(split.pos, values)
    fp = _count_at_least(split.neg, values)
    return float(np.sum(counts * (tp / (tp + fp))) / split.pos.size)


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve, exact with tied scores.

    Args:
        labels: ``(N,)`` or any shape; truthy = defective.
        scores: same number of elements; higher = more anomalous.

    Raises:
        ValueError: only one class present, lengths differ, or NaN scores.
    """
    return _auroc(_split(labels, scores))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under precision-recall as a step sum, scikit-learn's definition)."""
    return _average_precision(_split(labels, scores))


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points ``(fpr, tpr, thresholds)`` at every distinct score, from (0, 0) to (1, 1)."""
    split = _split(labels, scores)
    _need_both(split, "a ROC curve")
    thresholds = np.unique(np.concatenate([split.pos, split.neg]))[::-1]
    tpr = _count_at_least(split.pos, thresholds) / split.pos.size
    fpr = _count_at_least(split.neg, thresholds) / split.neg.size
    return np.r_[0.0, fpr], np.r_[0.0, tpr], np.r_[np.inf, thresholds]


def false_reject_rate(good_scores: np.ndarray, threshold: float) -> float:
    """Fraction of good parts judged NG (``score >= threshold``); 0.0 when there are none."""
    good = np.asarray(good_scores, dtype=np.float64).ravel()
    return float(np.mean(good >= threshold)) if good.size else 0.0


def escape_rate(defect_scores: np.ndarray, threshold: float) -> float:
    """Fraction of defective parts passed as OK (``score < threshold``); 0.0 when there are none."""
    defect = np.asarray(defect_scores, dtype=np.float64).ravel()
    return float(np.mean(defect < threshold)) if defect.size else 0.0


def f1_optimal_threshold(good_scores: np.ndarray, defect_scores: np.ndarray) -> tuple[float, float]:
    """Threshold maximising F1 (defect = positive class) and that F1.

    The threshold is placed halfway between the chosen score and the next lower distinct score, so it
    classifies these samples the same way but leaves room on both sides for unseen parts.

    Returns:
        ``(threshold, f1)``.
    """
    good = np.sort(np.asarray(good_scores, dtype=np.float64).ravel())
    defect = np.sort(np.asarray(defect_scores, dtype=np.float64).ravel())
    _need_both(_Split(defect, good), "an F1-optimal threshold")
    values = np.unique(np.concatenate([good, defect]))
    tp = _count_at_least(defect, values)
    fp = _count_at_least(good, values)
    f1 = 2 * tp / (2 * tp + fp + (defect.size - tp))
    best = int(np.argmax(f1[::-1]))  # on equal F1 prefer the highest threshold: fewer false rejects
    best = values.size - 1 - best
    below = values[best - 1] if best > 0 else values[best] - 1e-6
    return float((values[best] + below) / 2.0), float(f1[best])


def _check_shapes(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> None:
    if len(masks) != len(maps):
        msg = f"{len(masks)} masks but {len(maps)} anomaly maps"
        raise ValueError(msg)
    for i, (mask, amap) in enumerate(zip(masks, maps, strict=True)):
        if np.shape(mask) != np.shape(amap):
            msg = f"mask {i} has shape {np.shape(mask)} but its map has {np.shape(amap)}"
            raise ValueError(msg)


def _pooled_pixels(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]) -> _Split:
    """Defect and good pixels of all images as sorted float32, filled in place (no pooled temporaries)."""
    _check_shapes(masks, maps)
    masks = [np.asarray(m, dtype=bool) for m in masks]
    n_pos = sum(int(np.count_nonzero(m)) for m in masks)
    pos = np.empty(n_pos, dtype=np.float32)
    neg = np.empty(sum(m.size for m in masks) - n_pos, dtype=np.float32)
    i_pos = i_neg = 0
    for mask, amap in zip(masks, maps, strict=True):
        amap = np.asarray(amap)
        k = int(np.count_nonzero(mask))
        pos[i_pos : i_pos + k] = amap[mask]
        neg[i_neg : i_neg + mask.size - k] = amap[~mask]
        i_pos, i_neg = i_pos + k, i_neg + mask.size - k
    if np.isnan(pos).any() or np.isnan(neg).any():
        msg = "anomaly maps contain NaN"
        raise ValueError(msg)
    pos.sort()
    neg.sort()
    return _Split(pos, neg)


def _region_pixels(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray]):
    """Scores of the defect pixels with the id of their connected region, and the number of regions."""
    scores, region_of, n_regions = [], [], 0
    for mask, amap in zip(masks, maps, strict=True):
        mask = np.asarray(mask, dtype=bool)
        n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
        scores.append(np.asarray(amap)[mask].astype(np.float32, copy=False))
        region_of.append(labels[mask].astype(np.int64) - 1 + n_regions)  # component 0 is background
        n_regions += n - 1
    return np.concatenate(scores), np.concatenate(region_of), n_regions


def aupro(
    masks: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    fpr_limit: float = AUPRO_FPR_LIMIT,
    n_thresholds: int = AUPRO_THRESHOLDS,
) -> float:
    """Area under the per-region-overlap curve up to ``fpr_limit``, divided by ``fpr_limit`` (MVTec AD).

    Every connected defect region (8-connectivity, per image) weighs the same whatever its size; the
    false-positive rate is over all good pixels of all images. Thresholds are quantiles of the good
    pixels, so they are evenly spaced in FPR over ``[0, fpr_limit]``.

    Args:
        masks: per image ``(H, W)`` bool ground truth.
        maps: per image ``(H, W)`` anomaly map, same shapes.
        fpr_limit: upper end of the integration, in (0, 1].
        n_thresholds: number of quantile-spaced thresholds.

    Raises:
        ValueError: no defect region, no good pixel, or shapes that differ.
    """
    return _aupro(_pooled_pixels(masks, maps).neg, masks, maps, fpr_limit, n_thresholds)


def _aupro(neg: np.ndarray, masks, maps, fpr_limit: float, n_thresholds: int = AUPRO_THRESHOLDS) -> float:
    """AUPRO given the sorted float32 scores of all good pixels."""
    pos, region_of, n_regions = _region_pixels(masks, maps)
    if n_regions == 0 or neg.size == 0:
        msg = f"AUPRO needs defect regions and good pixels (got {n_regions} regions, {neg.size} good pixels)"
        raise ValueError(msg)
    ranks = np.linspace(neg.size * (1.0 - min(1.0, 1.2 * fpr_limit)), neg.size - 1, n_thresholds)
    top = np.nextafter(neg[-1], np.float32(np.inf))  # FPR 0
    thresholds = np.unique(np.r_[neg[ranks.astype(np.int64)], top, -np.inf].astype(np.float32))
    fpr = _count_at_least(neg, thresholds) / neg.size
    # Per region, how many pixels fall into each threshold bin; a reverse cumsum gives "pixels >= t".
    bins = np.searchsorted(thresholds, pos, side="right") - 1
    counts = np.bincount(region_of * thresholds.size + bins, minlength=n_regions * thresholds.size)
    above = np.cumsum(counts.reshape(n_regions, thresholds.size)[:, ::-1], axis=1)[:, ::-1]
    pro = (above / above[:, :1]).mean(axis=0)
    return _integrate_to(fpr[::-1], pro[::-1], fpr_limit) / fpr_limit


def _integrate_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under ``y(x)`` (x ascending) from 0 to ``limit``, interpolating at the end."""
    inside = x <= limit
    xs, ys = x[inside], y[inside]
    if xs[-1] < limit:
        nxt = int(np.argmax(~inside))
        y_end = ys[-1] + (y[nxt] - ys[-1]) * (limit - xs[-1]) / (x[nxt] - xs[-1])
        xs, ys = np.r_[xs, limit], np.r_[ys, y_end]
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))


@dataclass(frozen=True)
class EvalReport:
    """Numbers from one evaluation; pixel metrics are None when there were no masks."""

    image_auroc: float | None  # None when the test set lacks good or defective images
    pixel_auroc: float | None  # over all pixels of all test images pooled
    pixel_ap: float | None  # average precision over the same pooled pixels
    aupro: float | None  # per-region overlap integrated to FPR 0.3, normalised
    threshold: float  # the image-score threshold the two rates below are measured at
    false_reject_rate: float  # good images judged NG at that threshold
    escape_rate: float  # defective images passed as OK at that threshold
    n_good: int  # good test images
    n_defect: int  # defective test images
    per_type: dict | None = None  # per defect type: n, image AUROC, escapes (draem_core.per_type); good: FRR bound
    paper_image_auroc: float | None = None  # image AUROC of the paper's score on the same maps, for comparison
    scoring: str = "paper"  # the scoring method the scores and the threshold belong to
    scoring_label: str = "paper w21"  # the method with its pooling size (draem_core.scoring.Scoring.label)

    def to_dict(self) -> dict[str, float | int | None]:
        """JSON-safe dict with the field names as keys."""
        return asdict(self)


def evaluate_scores(
    labels: Sequence[int],
    scores: Sequence[float],
    *,
    threshold: float | None = None,
    masks: Sequence[np.ndarray] | None = None,
    maps: Sequence[np.ndarray] | None = None,
) -> EvalReport:
    """Image and (when masks are given) pixel metrics of one test set.

    Args:
        labels: per image, 1 = defective, 0 = good.
        scores: per image anomaly score.
        threshold: score threshold for the rates; None = the F1-optimal one on these scores.
        masks: per image ``(H, W)`` bool ground truth (all False for good images), or None.
        maps: per image ``(H, W)`` anomaly map at the mask size; needed with ``masks``.

    Raises:
        ValueError: no threshold can be chosen (one class only), or masks/maps mismatch.
    """
    labels_arr = np.asarray(labels, dtype=bool).ravel()
    scores_arr = np.asarray(scores, dtype=np.float64).ravel()
    split = _split(labels_arr, scores_arr)
    both = split.pos.size > 0 and split.neg.size > 0
    if threshold is None:
        if not both:
            msg = "a threshold must be given when the test set lacks good or defective images"
            raise ValueError(msg)
        threshold = f1_optimal_threshold(split.neg, split.pos)[0]
    if masks is not None and len(masks) != labels_arr.size:
        msg = f"{len(masks)} masks for {labels_arr.size} images"
        raise ValueError(msg)
    pixel = _pixel_metrics(masks, maps) if masks is not None else (None, None, None)
    return EvalReport(
        image_auroc=_auroc(split) if both else None,
        pixel_auroc=pixel[0],
        pixel_ap=pixel[1],
        aupro=pixel[2],
        threshold=float(threshold),
        false_reject_rate=false_reject_rate(split.neg, threshold),
        escape_rate=escape_rate(split.pos, threshold),
        n_good=int(split.neg.size),
        n_defect=int(split.pos.size),
    )


def _pixel_metrics(masks: Sequence[np.ndarray], maps: Sequence[np.ndarray] | None):
    if maps is None:
        msg = "pixel metrics need one anomaly map per mask"
        raise ValueError(msg)
    split = _pooled_pixels(masks, maps)
    if split.pos.size == 0 or split.neg.size == 0:
        return None, None, None
    return _auroc(split), _average_precision(split), _aupro(split.neg, masks, maps, AUPRO_FPR_LIMIT)
