"""The retrain plan: what it refuses, what it warns about, and the training run it turns into."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.retrain.plan import RetrainPlan, suggest_size
from draem_core.training_data import split_holdout


def _plan(n: int, **kw) -> RetrainPlan:
    return RetrainPlan(
        dataset=Path("/data/flange"), images=[Path(f"/data/flange/{i:05d}.png") for i in range(n)], **kw
    )


def test_refuses_fewer_than_20_good_images() -> None:
    plan = _plan(22)
    plan.deleted = set(plan.images[:2])
    plan.defective = {plan.images[2]}  # defective images do not count as good ones
    check = plan.check()
    assert not check.ok and check.errors == (
        "Only 19 good images: at least 20 are needed. Collect or import more.",
    )
    plan.defective = set()
    assert plan.check().ok
    assert RetrainPlan().check().errors[0].startswith("No dataset")


def test_warns_below_50_and_without_marked_defects() -> None:
    warnings = " ".join(_plan(30).check().warnings)
    assert "Only 30 good images: 50 or more" in warnings and "synthetic defects only" in warnings
    plan = _plan(60, device="cpu", preset="paper")
    plan.defective = {plan.images[0]}
    assert plan.check().warnings == (
        "The paper preset is very slow on a CPU; choose cpu or compact, or a GPU.",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": (100, 256)}, "height 100 must be a multiple of 32"),
        ({"preset": "huge"}, "Unknown preset 'huge'"),
        ({"budget": 0}, "must be positive"),
        ({"budget_kind": "epochs"}, "Unknown budget 'epochs'"),
        ({"holdout_share": 0.8}, "Held-out share 80%"),
        ({"anomaly_source": Path("/no/such/textures")}, "/no/such/textures does not exist"),
    ],
)
def test_bad_settings_are_named(change: dict, message: str) -> None:
    check = _plan(40, **change).check()
    assert not check.ok and message in " ".join(check.errors)


def test_holdout_count_matches_the_real_split() -> None:
    for n, share in ((20, 0.1), (40, 0.1), (60, 0.25), (100, 0.05), (11, 0.1)):
        plan = _plan(n, holdout_share=share)
        _, held = split_holdout(plan.good_images, share, 4, 0)
        assert plan.holdout_count == len(held), (n, share)


def test_becomes_a_training_run_of_the_good_images(tmp_path: Path) -> None:
    plan = _plan(25, preset="micro", size=(64, 160), budget=30, batch_size=2, device="cpu", name=" flange A ")
    plan.deleted, plan.defective = {plan.images[0]}, {plan.images[1]}
    run = plan.to_train_plan(tmp_path / "m.safetensors")
    assert run.images == tuple(plan.images[2:]) and run.name == "flange A"
    assert (run.model.preset, run.model.image_height, run.model.image_width) == ("micro", 64, 160)
    assert (run.train.steps, run.train.minutes, run.train.batch_size, run.train.device) == (
        30,
        None,
        2,
        "cpu",
    )
    plan.budget_kind, plan.budget = "minutes", 12.5
    assert plan.to_train_plan(tmp_path / "m.safetensors").train.minutes == 12.5
    plan.deleted |= set(plan.images[2:8])
    with pytest.raises(ValueError, match="at least 20 are needed"):
        plan.to_train_plan(tmp_path / "m.safetensors")


def test_suggested_size_follows_the_image_aspect() -> None:
    assert suggest_size((460, 1130)) == (160, 416)  # ball-screw crops keep their aspect at ~256² pixels
    assert suggest_size((1024, 1024)) == (256, 256)
    assert suggest_size((256, 4096)) == (64, 1024)  # a fabric strip: not squashed to a square
