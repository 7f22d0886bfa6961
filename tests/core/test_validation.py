"""Choosing the scoring on the validation split: the first candidate of the highest validation AUROC is kept."""

import numpy as np
import torch

from draem_core.scoring import Scoring, fit_pixel_stats
from draem_core.validation import CANDIDATES, best_scoring

FIRST_ROUND = {"paper w21", "topk 1%", "normalized-paper w21", "normalized-topk 1%"}
SMALLER = tuple(Scoring(m, window=5) for m in ("paper", "normalized-paper")) + tuple(
    Scoring(m, topk=0.001) for m in ("topk", "normalized-topk")
)  # fmt: skip


def _good_maps(n: int, seed: int) -> torch.Tensor:
    """Low noise plus a broad, mild glow of varying strength at a place that differs from part to part."""
    g = torch.Generator().manual_seed(seed)
    maps = 0.05 + 0.02 * torch.rand(n, 128, 128, generator=g)
    for m in maps:
        y, x = torch.randint(0, 98, (2,), generator=g).tolist()
        m[y : y + 30, x : x + 30] = 0.2 + 0.15 * torch.rand(1, generator=g).item()
    return maps


def _small_defects(good: torch.Tensor, seed: int) -> torch.Tensor:
    """The same kind of image with a 3x3 defect: hotter than any glow, too small for a wide pooling to see."""
    g = torch.Generator().manual_seed(seed)
    maps = good.clone()
    for m in maps:
        y, x = torch.randint(2, 126, (2,), generator=g).tolist()
        m[y - 1 : y + 2, x - 1 : x + 2] = 1.0
    return maps


def test_each_candidate_has_its_own_label_naming_its_pooling_size():
    assert {c.label for c in CANDIDATES} == FIRST_ROUND
    assert Scoring("normalized-topk", topk=0.001).label == "normalized-topk 0.1%"
    assert Scoring("paper", window=5).label == "paper w5"
    assert len({c.label for c in CANDIDATES + SMALLER}) == 8


def test_a_small_defect_is_scored_with_a_small_pooling_when_that_separates_best():
    stats = fit_pixel_stats(_good_maps(40, 0))
    good = _good_maps(24, 1)
    bad = _small_defects(_good_maps(24, 2), 3)
    chosen, good_scores, bad_scores = best_scoring(good, bad, ("scratch",) * 24, stats, 0.01, CANDIDATES + SMALLER)
    figures = chosen.validation
    assert set(figures) == {c.label for c in CANDIDATES + SMALLER}
    assert max(figures[k]["auroc"] for k in FIRST_ROUND) < 1.0  # the first round's sizes miss some defects
    assert chosen.label not in FIRST_ROUND and figures[chosen.label]["auroc"] == 1.0
    assert chosen.label == next(c.label for c in SMALLER if figures[c.label]["auroc"] == 1.0)  # first of equals
    assert good_scores.max() < bad_scores.min()  # the returned scores are the chosen candidate's
    assert figures[chosen.label]["escape_by_kind"] == {"scratch": 0.0}


def test_ties_keep_the_papers_score():
    stats = fit_pixel_stats(_good_maps(40, 0))
    good = _good_maps(8, 1)
    bad = good + 0.5  # every candidate separates perfectly
    chosen = best_scoring(good, bad, ("texture",) * 8, stats)[0]
    assert chosen == Scoring("paper", validation=chosen.validation, chosen_on=chosen.chosen_on)
    assert np.isclose(chosen.validation["paper w21"]["auroc"], 1.0) and set(chosen.validation) == FIRST_ROUND


def test_the_model_keeps_the_first_rounds_four_candidates_by_default():
    stats = fit_pixel_stats(_good_maps(40, 0))
    good = _good_maps(24, 1)
    bad = _small_defects(_good_maps(24, 2), 3)
    chosen = best_scoring(good, bad, ("scratch",) * 24, stats)[0]
    assert set(chosen.validation) == FIRST_ROUND and chosen.label in FIRST_ROUND
