"""Candidate scorings of a trained model at several pooling sizes: validation split and test set side by side.

Reports only; nothing here chooses anything. For each of :data:`SIZES` (the four methods of
``draem_core.validation.CANDIDATES``, each at three pooling sizes) it scores the model's validation split as
training does (held-out good images, the same synthetic anomalies) and the dataset's test set, so one can see
whether the validation ranking follows the test ranking, and whether held-out good images score like new ones
(docs/benchmarks.md §8, "Pooling sizes as candidates").

    python bench/scoring_candidates.py runs/real/ball_screw/model.safetensors ../shared/data/.../ball_screw \
        [--json out.json]

Each candidate's threshold is set as training sets it: at the model's FRR target on the candidate's held-out good
scores (draem_core.threshold, outlier rule included). Needs the training checkpoint next to the model (it names
the held-out images).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from draem_core.checkpoint import checkpoint_path, load_checkpoint
from draem_core.config import SynthConfig
from draem_core.dataset import test_items
from draem_core.imageio import read_image
from draem_core.inspector import Inspector
from draem_core.metrics import auroc, escape_rate, false_reject_rate
from draem_core.processing import frames_to_uint8
from draem_core.scoring import Scoring, fit_pixel_stats, post_process
from draem_core.threshold import calibrate_tradeoff
from draem_core.training_data import load_training_images
from draem_core.validation import (
    CANDIDATES,
    MAX_STAT_IMAGES,
    best_scoring,
    probability_maps,
    validation_anomalies,
    validation_textures,
)  # fmt: skip

WINDOWS = (21, 11, 5)  # mean-filter sizes of the paper-style scores (the paper's first)
TOPK_SHARES = (0.01, 0.001, 0.05)  # shares of the top-k scores (the default first)
SIZES = CANDIDATES + tuple(
    replace(c, window=w) if not c.method.endswith("topk") else replace(c, topk=k)
    for c in CANDIDATES for w, k in zip(WINDOWS[1:], TOPK_SHARES[1:], strict=True)
)  # fmt: skip


def test_maps(inspector: Inspector, data: Path) -> tuple[np.ndarray, torch.Tensor]:
    """Labels and probability maps ``(N, H, W)`` of the test images, as the Inspector sees them."""
    labels, maps = [], []
    for item in test_items(data):
        region, _ = inspector.region_and_matrix(read_image(item.path))
        maps.append(inspector.probability_maps(frames_to_uint8([region], inspector.device)[0][None]).cpu())
        labels.append(item.label)
    return np.asarray(labels), torch.cat(maps)


def candidates(model_path: Path, data: Path) -> list[dict]:
    inspector = Inspector.from_file(model_path, "cpu")
    if inspector.aligner is not None:
        raise SystemExit("aligned models are not supported here")
    info = load_checkpoint(checkpoint_path(model_path), torch.device("cpu"))[2]
    images, _ = load_training_images([Path(p) for p in info.train_images], [Path(p) for p in info.holdout_images],
                                     inspector.size, inspector.model_roi)  # fmt: skip
    stats = fit_pixel_stats(probability_maps(inspector.model, images.train[:MAX_STAT_IMAGES]))
    held = probability_maps(inspector.model, images.holdout)
    labels, test = test_maps(inspector, data)
    target = (inspector.meta.calibration or {}).get("target_false_reject", 0.01)
    synth = SynthConfig(**info.settings.get("train", {}).get("synth", {}))
    textures = validation_textures(*inspector.size, None, torch.device("cpu"))
    anomalies, kinds = validation_anomalies(images.holdout, textures, synth)
    best = best_scoring(held, probability_maps(inspector.model, anomalies), kinds, stats, target, SIZES)[0]
    chosen = Scoring.from_dict(inspector.meta.scoring).label
    rows = []
    for cand in SIZES:
        good = post_process(held, cand, stats)[1].numpy().astype(np.float64)
        scores = post_process(test, cand, stats)[1].numpy().astype(np.float64)
        threshold = calibrate_tradeoff(good, None, None, target)[0].threshold
        val = best.validation[cand.label]
        rows.append({"scoring": cand.label, "model's": cand.label == chosen, "best on validation": cand == replace(
                     best, validation=None, chosen_on=""), "validation_auroc": val["auroc"],
                     "validation_escape": val["escape"], "test_auroc": auroc(labels, scores),
                     "threshold": threshold, "test_frr": false_reject_rate(scores[labels == 0], threshold),
                     "test_escape": escape_rate(scores[labels == 1], threshold),
                     "heldout_good_median": float(np.median(good)),
                     "test_good_median": float(np.median(scores[labels == 0]))})  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("data", type=Path, help="the MVTec-layout dataset whose test set to score")
    ap.add_argument("--json", type=Path, help="write the rows here too")
    args = ap.parse_args()
    rows = candidates(args.model, args.data)
    print("| scoring | validation AUROC | validation escape | test AUROC | threshold | test FRR | test escape "
          "| good median: held-out / test |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        mark = (" (the model's)" if r["model's"] else "") + (" (best of all on validation)" if r["best on validation"] else "")
        val = f"{r['validation_auroc']:.4f}"
        vesc = "n/a" if r["validation_escape"] is None else f"{r['validation_escape']:.1%}"
        print(f"| {r['scoring']}{mark} | {val} | {vesc} | {r['test_auroc']:.3f} | {r['threshold']:.3f} | "
              f"{r['test_frr']:.1%} | {r['test_escape']:.1%} | {r['heldout_good_median']:.3f} / "
              f"{r['test_good_median']:.3f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
