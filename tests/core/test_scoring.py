"""Scoring beyond the paper: the paper's score unchanged for old models, top-k, per-pixel normalisation."""

import json

import numpy as np
import pytest
import torch

from draem_core.config import preset
from draem_core.inspector import Inspector
from draem_core.metrics import auroc
from draem_core.model import DraemModel
from draem_core.modelfile import ModelMetadata, load_model_parts, save_model
from draem_core.processing import image_score
from draem_core.scoring import PixelStats, Scoring, fit_pixel_stats, post_process, topk_score


def _maps(n: int, seed: int, marking: float = 0.9) -> torch.Tensor:
    """Good maps of a fixed-camera line: low noise plus a marking that lights up on every part."""
    g = torch.Generator().manual_seed(seed)
    maps = 0.05 + 0.03 * torch.rand(n, 64, 96, generator=g)
    maps[:, 10:30, 60:90] = marking - 0.05 * torch.rand(n, 20, 30, generator=g)
    return maps


def test_the_paper_score_is_what_old_models_get():
    maps = _maps(4, 0)
    shown, scores = post_process(maps)
    assert torch.equal(shown, maps) and torch.allclose(scores, image_score(maps))
    assert Scoring.from_dict(None) == Scoring()


def test_topk_is_the_mean_of_the_highest_share():
    maps = torch.zeros(1, 10, 10)
    maps[0, 0, :5] = torch.tensor([1.0, 0.8, 0.6, 0.4, 0.2])
    assert topk_score(maps, 0.03).item() == pytest.approx(0.8)
    assert post_process(maps, Scoring("topk", topk=0.05))[1].item() == pytest.approx(0.6)


def test_normalisation_stops_a_marking_that_is_always_bright_from_dominating():
    stats = fit_pixel_stats(_maps(40, 1))
    good = _maps(30, 2)
    bad = _maps(30, 3)
    bad[:, 40:52, 10:22] += 0.35  # a defect, fainter than the marking
    labels = np.r_[np.zeros(30), np.ones(30)]
    paper = auroc(labels, torch.cat([post_process(m)[1] for m in (good, bad)]).numpy())
    scoring = Scoring("normalized-paper")
    norm = auroc(labels, torch.cat([post_process(m, scoring, stats)[1] for m in (good, bad)]).numpy())
    assert paper < 0.75 and norm > 0.99
    shown = post_process(bad[:1], scoring, stats)[0]
    assert shown.min() > 0 and shown.max() <= 1 and shown[0, 15, 70] < shown[0, 45, 15]


def test_normalized_scoring_without_statistics_is_refused():
    with pytest.raises(ValueError, match="per-pixel statistics"):
        post_process(_maps(1, 0), Scoring("normalized-topk"))


@pytest.mark.parametrize("bad", [{"method": "median"}, {"window": 4}, {"window": 0}, {"topk": 0.0}, {"topk": 1.5}])
def test_invalid_scoring_metadata_is_refused(bad):
    with pytest.raises(ValueError):
        Scoring.from_dict({"method": "paper", **bad})


def test_statistics_travel_in_the_model_file_and_drive_the_inspector(tmp_path):
    cfg = preset("micro", (64, 96))
    torch.manual_seed(0)
    model = DraemModel(cfg)
    stats = fit_pixel_stats(_maps(10, 4))
    scoring = Scoring("normalized-topk", topk=0.02)
    meta = ModelMetadata(model=cfg, scoring=scoring.to_dict())
    path = save_model(tmp_path / "m.safetensors", model, meta, half=True, extra=stats.tensors())
    _, loaded, extra = load_model_parts(path)
    assert loaded.scoring == json.loads(json.dumps(scoring.to_dict()))
    back = PixelStats.from_tensors(extra, (64, 96))
    assert torch.equal(back.mean, stats.mean) and extra["scoring.mean"].dtype == torch.float32
    inspector = Inspector.from_file(path, "cpu")
    frame = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    maps, score = inspector.predict_tensor(torch.from_numpy(frame).permute(2, 0, 1)[None])
    expected = post_process(inspector.probability_maps(torch.from_numpy(frame).permute(2, 0, 1)[None]), scoring, back)
    assert torch.allclose(score, expected[1]) and torch.allclose(maps, expected[0])


def test_a_normalized_model_file_without_its_statistics_is_a_model_file_error(tmp_path):
    from draem_core.errors import ModelFileError

    cfg = preset("micro", (64, 96))
    meta = ModelMetadata(model=cfg, scoring=Scoring("normalized-paper").to_dict())
    path = save_model(tmp_path / "m.safetensors", DraemModel(cfg), meta)
    with pytest.raises(ModelFileError, match="per-pixel statistics"):
        Inspector.from_file(path, "cpu")
    wrong = {"scoring.mean": torch.zeros(32, 32), "scoring.std": torch.ones(32, 32)}
    path = save_model(tmp_path / "w.safetensors", DraemModel(cfg), meta, extra=wrong)
    with pytest.raises(ModelFileError, match="statistics are"):
        Inspector.from_file(path, "cpu")


def _bar_maps(n: int, seed: int, shift: int = 0) -> torch.Tensor:
    """Good maps with a bright bar that every part shows, where the part happens to lie (±1 px, plus ``shift``)."""
    g = torch.Generator().manual_seed(seed)
    maps = 0.05 + 0.01 * torch.rand(n, 200, 200, generator=g)
    for m in maps:
        x = 100 + shift + int(torch.randint(-1, 2, (1,), generator=g))
        m[:, x : x + 10] = 0.9
    return maps


def test_a_part_a_few_pixels_off_is_not_scored_as_a_defect():
    from draem_core.scoring import shift_radius

    assert shift_radius((200, 200)) == 4 and shift_radius((64, 1024)) == 1
    stats = fit_pixel_stats(_bar_maps(40, 0))
    scoring = Scoring("normalized-topk")
    moved = post_process(_bar_maps(8, 1, shift=4), scoring, stats)[1]  # good parts, 4 px off the training pose
    defect = _bar_maps(8, 2)
    defect[:, 30:40, 30:40] = 0.6  # a real defect away from the bar
    found = post_process(defect, scoring, stats)[1]
    usual = post_process(_bar_maps(8, 3), scoring, stats)[1]
    assert moved.max() < found.min() and moved.max() < usual.max() + 0.1
