"""The wizard's model comparison on real ball-screw images: both models scored on the same held-out images."""

from __future__ import annotations

from pathlib import Path

from app.retrain.evaluation import Comparison, compare
from draem_core.modelfile import read_file
from draem_core.region import as_roi
from draem_core.version import MODEL_FORMAT


def _run(new: Path, deployed: Path, good: list[Path]) -> Comparison:
    *progress, result = compare(new, deployed, good[:6], [], "cpu")
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


def test_the_comparison_uses_the_validation_anomalies_and_enough_of_them(tiny_model: Path, good_paths: list[Path]):
    import numpy as np

    from app.retrain.evaluation import MIN_SYNTHETIC, evaluation_images

    _, doc = read_file(tiny_model, MODEL_FORMAT)
    size = (int(doc["model"]["image_height"]), int(doc["model"]["image_width"]))
    images = evaluation_images(tiny_model, good_paths[:2], [], size)  # the run's 4 held-out images
    synthetic = [im for _, im in images.synthetic]
    assert len(synthetic) >= MIN_SYNTHETIC and all(im.shape == (*size, 3) and im.dtype == np.uint8 for im in synthetic)
    assert len({im.tobytes() for im in synthetic}) == len(synthetic)  # no two alike
    good = {im.tobytes() for _, im in images.good}
    assert not good & {im.tobytes() for im in synthetic}  # every synthetic image differs from its good one
    # the very split training validates on (held-out textures and the structural kinds), not training's textures
    import torch

    from draem_core.config import SynthConfig
    from draem_core.structural import KINDS
    from draem_core.validation import validation_anomalies, validation_textures

    held_out = torch.from_numpy(np.stack([im for _, im in images.good])).permute(0, 3, 1, 2)
    made, kinds = validation_anomalies(held_out, validation_textures(*size, None, torch.device("cpu")), SynthConfig())
    expected = {im.tobytes() for im in (made * 255).round().byte().permute(0, 2, 3, 1).numpy()}
    assert {im.tobytes() for im in synthetic} == expected and set(KINDS) <= set(kinds)
