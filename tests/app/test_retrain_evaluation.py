"""The wizard's model comparison on real ball-screw images: both models scored on the same held-out images."""

from __future__ import annotations

from pathlib import Path

from app.retrain.evaluation import Comparison, compare
from draem_core.modelfile import read_file
from draem_core.region import as_roi
from draem_core.version import MODEL_FORMAT


def _run(new: Path, deployed: Path, good: list[Path]) -> Comparison:
    *progress, result = compare(new, deployed, good[:6], [], None, "cpu")
    assert progress and all(isinstance(line, str) for line in progress)
    assert isinstance(result, Comparison)
    return result


def test_comparison_notes_a_deployed_model_that_inspects_another_region(
    region_model: Path, tiny_model: Path, good_paths: list[Path]
) -> None:
    result = _run(region_model, tiny_model, good_paths)
    assert (
        result.new.roi == as_roi(read_file(region_model, MODEL_FORMAT)[1]["roi"]) is not None
        and result.deployed is not None
        and result.deployed.roi is None
    )
    assert result.new.good.size == result.deployed.good.size > 0
    assert "The deployed model inspects the whole frame" in result.note

    same = _run(region_model, region_model, good_paths)
    assert same.deployed is not None and "inspects" not in same.note
