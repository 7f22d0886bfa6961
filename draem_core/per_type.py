"""Figures per defect type: which kinds a model catches and which escape, in eval's table, JSON and plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from draem_core.metrics import auroc, escape_rate
from draem_core.threshold import frr_upper_bound


def per_type(
    types: Sequence[str], labels: Sequence[int], scores: Sequence[float], threshold: float
) -> dict[str, dict[str, float | int | None]]:
    """Per defect type: image AUROC against all good images, escapes at ``threshold`` (share and count), and n.

    Good images are listed too (``good``: their false-reject rate, count and its 95 % upper bound).
    """
    types_a = np.asarray(types)
    labels_a = np.asarray(labels, dtype=bool)
    scores_a = np.asarray(scores, dtype=np.float64)
    good = scores_a[~labels_a]
    out: dict[str, dict[str, float | int | None]] = {}
    if good.size:
        rejected = int(np.sum(good >= threshold))
        out["good"] = {"n": int(good.size), "false_rejects": rejected, "false_reject_rate": rejected / good.size,
                       "false_reject_upper_95": frr_upper_bound(rejected, good.size)}  # fmt: skip
    for kind in sorted(set(types_a[labels_a].tolist())):
        bad = scores_a[labels_a & (types_a == kind)]
        value = auroc(np.r_[np.zeros(good.size), np.ones(bad.size)], np.r_[good, bad]) if good.size else None
        out[kind] = {"n": int(bad.size), "image_auroc": value, "escapes": int(np.sum(bad < threshold)),
                     "escape_rate": escape_rate(bad, threshold)}  # fmt: skip
    return out


def table(rows: dict[str, dict[str, float | int | None]]) -> str:
    """Aligned text lines of :func:`per_type`'s output."""
    lines = [f"{'type':<24} {'n':>5} {'image AUROC':>11} {'escapes':>8} {'escape rate':>11}"]
    for kind, r in rows.items():
        if kind == "good":
            lines.append(f"{'good (false rejects)':<24} {r['n']:>5} {'':>11} {r['false_rejects']:>8} "
                         f"{r['false_reject_rate']:>11.1%}  (true rate <= {r['false_reject_upper_95']:.1%} at 95 %)")  # fmt: skip
            continue
        auc = "n/a" if r["image_auroc"] is None else f"{r['image_auroc']:.4f}"
        lines.append(f"{kind:<24} {r['n']:>5} {auc:>11} {r['escapes']:>8} {r['escape_rate']:>11.1%}")
    return "\n".join(lines)


def plot_per_type(
    types: Sequence[str], scores: Sequence[float], threshold: float, path: str | Path
) -> Path:
    """Scores of every image by type (good first) as a strip plot with the threshold line."""
    from draem_core.plots import DEFECT_COLOR, GOOD_COLOR, _figure, _save

    types_a, scores_a = np.asarray(types), np.asarray(scores, dtype=np.float64)
    kinds = ["good", *sorted(set(types_a.tolist()) - {"good"})] if "good" in types_a else sorted(set(types_a.tolist()))
    fig = _figure()
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    for i, kind in enumerate(kinds):
        s = scores_a[types_a == kind]
        below = np.mean(s < threshold) if kind != "good" else np.mean(s >= threshold)
        ax.scatter(i + rng.uniform(-0.2, 0.2, s.size), s, s=10, alpha=0.7,
                   color=GOOD_COLOR if kind == "good" else DEFECT_COLOR)  # fmt: skip
        ax.text(i, float(s.max(initial=threshold)), f"{below:.0%}",
                ha="center", va="bottom", fontsize=8)  # fmt: skip
    ax.axhline(threshold, color="black", ls="--", lw=1.2, label=f"threshold {threshold:.4g}")
    ax.set_xticks(range(len(kinds)), kinds, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="image anomaly score (raw)")
    ax.set_title("Scores per type (label: good rejected / defects escaping)")
    ax.legend()
    return _save(fig, path)
