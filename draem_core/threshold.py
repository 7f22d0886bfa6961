"""A threshold that catches defects: the false-reject / escape trade-off and a default at a plant-set FRR target.

Good images only tell how often a good part would be rejected; they say nothing about defects. So the trade-off
is shown on two axes: the false-reject rate (FRR) on held-out good images, and the escape rate on synthetic
anomalies pasted into the same held-out images (textures never used in training) and on any images the engineer
marked defective. The default threshold sits at the plant's FRR target (default 1 %):

- One held-out good score far above the rest (logit more than :data:`OUTLIER_Z` robust standard deviations, from
  the median absolute deviation, above the median: one in a billion for a normal tail) is set aside and counted:
  such an image is more likely a defect or a mislabelled part than a good one, and one of them among 24 decided
  the old threshold (it passed every pitting on the ball screw, docs/benchmarks.md §8). The note asks the engineer
  to look at it. Only a lone one: when two or more are that far up, the bulk is tightly bunched (its MAD
  understates the spread) and they are the good tail, not strays; setting them aside rejected 8-12 % of the
  held-out good images at a 1 % target (§8). Then nothing is set aside.
- The other scores are fitted with a normal distribution of their logits (scores live in (0, 1) and their upper
  tail is close to that after the logit), and the threshold is the fitted ``1 - target`` quantile, but never below
  their empirical ``1 - target`` quantile plus a small floor (above every one of them while ``n < 1 / target``).
  Unlike the previous good-only margin this does not grow with a long median-to-max spread.
- The number of good images limits what can be known: with ``k`` of ``n`` good images rejected, the one-sided
  95 % upper bound of the true FRR is the Clopper-Pearson bound (``0`` of ``20``: up to 13.9 %; ``0`` of ``300``:
  up to 1.0 %). It is reported with every threshold (``frr_upper_95``).

A part is NG when ``score >= threshold`` (:mod:`draem_core.metrics`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from draem_core.calibration import MAX_THRESHOLD, MIN_MARGIN, Calibration, calibrate
from draem_core.metrics import escape_rate, false_reject_rate

FRR_TARGET = 0.01  # default false-reject target of a new threshold
TRADEOFF_TARGETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1)  # FRR targets listed in the trade-off table
CONFIDENCE = 0.95  # one-sided confidence of the FRR upper bound
OUTLIER_Z = 6.0  # robust standard scores (logits, median/MAD) above which a held-out good score is set aside
MIN_FOR_OUTLIERS = 8  # fewer held-out good images than this: nothing is set aside
_EPS = 1e-6  # scores are clipped to [eps, 1 - eps] before the logit


@dataclass(frozen=True)
class OperatingPoint:
    """One row of the trade-off: a threshold and what it costs and catches."""

    target_frr: float  # FRR target the threshold was set for
    threshold: float  # raw score threshold
    frr_heldout: float  # share of the held-out good images at or above it
    frr_upper_95: float  # 95 % upper bound of the true FRR given the held-out count
    escape_synthetic: float | None  # share of synthetic anomalies below it; None without any
    escape_marked: float | None  # share of the engineer's marked defects below it; None without any


@dataclass(frozen=True)
class TradeOff:
    """FRR against escapes over a range of thresholds, with the chosen default."""

    chosen: OperatingPoint  # at the requested FRR target
    points: tuple[OperatingPoint, ...]  # at TRADEOFF_TARGETS
    n_good: int  # held-out good images
    n_synthetic: int  # synthetic anomalies
    n_marked: int  # marked defective images
    n_outliers: int = 0  # held-out good images set aside as far above the rest (see the module docstring)

    def to_dict(self) -> dict:
        """JSON-safe dict (stored in the model file's calibration as ``tradeoff``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TradeOff:
        """From :meth:`to_dict` output.

        Raises:
            ValueError: a field is missing or malformed.
        """
        try:
            points = tuple(OperatingPoint(**p) for p in data["points"])
            return cls(OperatingPoint(**data["chosen"]), points, int(data["n_good"]), int(data["n_synthetic"]),
                       int(data["n_marked"]), int(data.get("n_outliers", 0)))  # fmt: skip
        except (KeyError, TypeError) as exc:
            msg = f"threshold trade-off is malformed ({exc})"
            raise ValueError(msg) from exc

    def table(self) -> str:
        """The trade-off as aligned text lines for the command line."""
        head = f"{'FRR target':>10}  {'threshold':>9}  {'FRR held-out':>12}  {'FRR ≤ (95%)':>11}  " \
               f"{'escape synth':>12}  {'escape marked':>13}"  # fmt: skip
        rows = [head]
        for p in (*self.points, self.chosen):
            mark = " <- default" if p is self.chosen else ""
            rows.append(f"{p.target_frr:>10.1%}  {p.threshold:>9.4f}  {p.frr_heldout:>12.1%}  {p.frr_upper_95:>11.1%}  "
                        f"{_pct(p.escape_synthetic):>12}  {_pct(p.escape_marked):>13}{mark}")  # fmt: skip
        return "\n".join(rows)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def frr_upper_bound(rejected: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound of a rate after ``rejected`` of ``n`` trials (1.0 when n == 0)."""
    if n <= 0 or rejected >= n:
        return 1.0
    alpha = 1.0 - confidence
    lo, hi = rejected / n, 1.0
    for _ in range(60):  # bisection on P(X <= rejected; n, p) = alpha, decreasing in p
        mid = (lo + hi) / 2
        if _binom_cdf(rejected, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def _binom_cdf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0 if k < n else 1.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
            + (n - i) * math.log1p(-p) for i in range(k + 1)]  # fmt: skip
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(v - top) for v in logs))


def _logits(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(scores, dtype=np.float64).ravel(), _EPS, 1 - _EPS)
    return np.log(clipped / (1 - clipped))


def outliers(good: np.ndarray) -> np.ndarray:
    """Boolean mask of the held-out good scores set aside as far above the rest (see the module docstring)."""
    logits = _logits(good)
    if logits.size < MIN_FOR_OUTLIERS:
        return np.zeros(logits.size, dtype=bool)
    median = float(np.median(logits))
    spread = max(1.4826 * float(np.median(np.abs(logits - median))), 1e-3)
    far = logits > median + OUTLIER_Z * spread
    return far if int(far.sum()) == 1 else np.zeros(logits.size, dtype=bool)


def threshold_at(good: np.ndarray, target_frr: float) -> float:
    """The threshold for ``target_frr`` on held-out good scores (see the module docstring)."""
    good = np.asarray(good, dtype=np.float64).ravel()
    good = good[~outliers(good)]
    logits = _logits(good)
    z = NormalDist().inv_cdf(1.0 - target_frr)
    spread = float(logits.std(ddof=1)) if good.size > 1 else 0.0
    fitted = 1.0 / (1.0 + math.exp(-(float(logits.mean()) + z * spread)))
    level = 1.0 - max(target_frr, 1.0 / (good.size + 1))
    empirical = float(np.quantile(good, level, method="higher")) + MIN_MARGIN
    return float(min(max(fitted, empirical), MAX_THRESHOLD))


def _point(target: float, threshold: float, good: np.ndarray, synth: np.ndarray, marked: np.ndarray) -> OperatingPoint:
    rejected = int(np.sum(good >= threshold))
    return OperatingPoint(
        target_frr=float(target), threshold=float(threshold), frr_heldout=false_reject_rate(good, threshold),
        frr_upper_95=frr_upper_bound(rejected, good.size),
        escape_synthetic=escape_rate(synth, threshold) if synth.size else None,
        escape_marked=escape_rate(marked, threshold) if marked.size else None,
    )  # fmt: skip


def trade_off(
    good: np.ndarray,
    synthetic: np.ndarray | None = None,
    marked: np.ndarray | None = None,
    target_frr: float = FRR_TARGET,
) -> TradeOff:
    """The trade-off table and the default operating point at ``target_frr``.

    Raises:
        ValueError: no good scores, NaN scores or a target outside (0, 0.5).
    """
    good_a, synth, mark = (np.asarray(a if a is not None else [], dtype=np.float64).ravel()
                           for a in (good, synthetic, marked))  # fmt: skip
    if good_a.size == 0 or any(np.isnan(a).any() for a in (good_a, synth, mark)):
        msg = "a threshold needs the (non-NaN) scores of at least one good image"
        raise ValueError(msg)
    if not 0.0 < target_frr < 0.5:
        msg = f"target false-reject rate {target_frr} is not inside (0, 0.5)"
        raise ValueError(msg)
    points = tuple(_point(t, threshold_at(good_a, t), good_a, synth, mark) for t in TRADEOFF_TARGETS)
    chosen = _point(target_frr, threshold_at(good_a, target_frr), good_a, synth, mark)
    return TradeOff(chosen, points, int(good_a.size), int(synth.size), int(mark.size), int(outliers(good_a).sum()))


def calibrate_tradeoff(
    good: np.ndarray,
    synthetic: np.ndarray | None = None,
    marked: np.ndarray | None = None,
    target_frr: float = FRR_TARGET,
) -> tuple[Calibration, TradeOff]:
    """A :class:`Calibration` at the trade-off's default threshold, and the trade-off.

    The calibration keeps its stored fields (old readers load it); ``escape_rate`` is that of the marked defects
    when there are any, else of the synthetic anomalies; the method line says which.
    """
    tradeoff = trade_off(good, synthetic, marked, target_frr)
    base = calibrate(np.asarray(good, np.float64), marked if marked is not None and len(marked) else None,
                     target_frr=target_frr)  # fmt: skip
    chosen = tradeoff.chosen
    escape = chosen.escape_marked if chosen.escape_marked is not None else chosen.escape_synthetic
    method = (f"logit-normal fit of {tradeoff.n_good - tradeoff.n_outliers} held-out good scores "
              f"({tradeoff.n_outliers} far above the rest set aside) at FRR {target_frr:.2%} "
              f"(not below their empirical quantile + {MIN_MARGIN}); true FRR <= {chosen.frr_upper_95:.1%} "
              f"at 95 % confidence; escapes from {tradeoff.n_synthetic} synthetic anomalies"
              + (f" and {tradeoff.n_marked} marked defects" if tradeoff.n_marked else ""))  # fmt: skip
    cal = Calibration(**{**asdict(base), "threshold": chosen.threshold, "method": method,
                         "margin": chosen.threshold - base.good_max, "escape_rate": escape,
                         "note": _note(tradeoff, base.note)})  # fmt: skip
    return cal, tradeoff


def _note(tradeoff: TradeOff, base_note: str) -> str:
    c = tradeoff.chosen
    parts = [f"With {tradeoff.n_good} good images the false-reject rate is known only to be below "
             f"{c.frr_upper_95:.1%} (95 %); more good images narrow it."]  # fmt: skip
    if tradeoff.n_outliers:
        parts.append(f"{tradeoff.n_outliers} held-out good image(s) score far above the others and were left out of "
                     "the threshold: look at them, they may be defective or mislabelled.")  # fmt: skip
    if c.escape_synthetic is not None:
        parts.append(f"{c.escape_synthetic:.0%} of synthetic anomalies pass at this threshold.")
    if tradeoff.n_marked == 0:
        parts.append("No marked defects: escapes of real defects are unknown; check real defective parts.")
    return " ".join(parts + [s for s in base_note.split(". ") if "good images: the threshold" in s])
