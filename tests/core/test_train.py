from pathlib import Path

import numpy as np
import pytest
import torch

from draem_core.checkpoint import checkpoint_path
from draem_core.config import TrainConfig, preset
from draem_core.errors import DatasetError
from draem_core.modelfile import load_model
from draem_core.train import TrainPlan, lr_at, train


def _plan(paths, out, steps, **kw):
    cfg = TrainConfig(steps=steps, batch_size=4, checkpoint_every=kw.pop("checkpoint_every", 0), seed=3)
    return TrainPlan(paths[0].parent, out, preset("micro", (64, 64)), cfg, images=tuple(paths), **kw)


def test_a_few_steps_lower_the_loss(good_paths, tmp_path):
    events = [e for e in train(_plan(good_paths, tmp_path / "m.safetensors", 24)) if e.kind == "step"]
    losses = np.array([e.loss for e in events])
    assert len(losses) == 24
    assert losses[-6:].mean() < losses[:6].mean()
    assert all(e.images_per_s > 0 and e.lr == pytest.approx(1e-4) for e in events[:5])


def test_progress_events_and_model_file(good_paths, tmp_path):
    out = tmp_path / "m.safetensors"
    events = list(train(_plan(good_paths, out, 5, checkpoint_every=2)))
    kinds = [e.kind for e in events]
    assert kinds[0] == "info" and kinds[-1] == "done"
    assert kinds.count("checkpoint") == 2 and "calibrating" in kinds
    step = next(e for e in events if e.kind == "step")
    assert np.isfinite([step.loss, step.l2, step.ssim, step.focal, step.eta_s]).all()
    _, meta = load_model(out)
    assert meta.training["steps"] == 5 and meta.training["n_holdout"] == 4
    assert len(meta.training["holdout_scores"]) == 4
    assert meta.calibration["n_good"] == 4


def test_cancel_then_resume_continues_the_same_run(good_paths, tmp_path):
    full = tmp_path / "full.safetensors"
    list(train(_plan(good_paths, full, 6)))

    out = tmp_path / "resumed.safetensors"
    seen = []

    def stop_after_3():
        return len(seen) >= 3

    for e in train(_plan(good_paths, out, 6), should_stop=stop_after_3):
        if e.kind == "step":
            seen.append(e.step)
        last = e
    assert last.kind == "cancelled" and last.step == 3 and not out.exists()
    ckpt = checkpoint_path(out)
    assert ckpt.exists()
    resumed = list(train(_plan(good_paths, out, 6, resume=ckpt)))
    assert [e.step for e in resumed if e.kind == "step"] == [4, 5, 6]
    a, _ = load_model(full)
    b, _ = load_model(out)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(pa.float(), pb.float(), atol=1e-5), name  # same run, bit for bit (nearly)


def test_lr_drops_at_80_and_90_percent():
    cfg = TrainConfig(steps=100)
    assert lr_at(cfg, 0.79) == pytest.approx(1e-4)
    assert lr_at(cfg, 0.8) == pytest.approx(2e-5)
    assert lr_at(cfg, 0.95) == pytest.approx(4e-6)


def test_budget_must_be_given_once(good_paths, tmp_path):
    from draem_core.errors import DraemError

    cfg = TrainConfig(steps=3, minutes=1.0)
    plan = TrainPlan(tmp_path, tmp_path / "m.safetensors", preset("micro", 64), cfg, images=tuple(good_paths))
    with pytest.raises(DraemError, match="exactly one"):
        list(train(plan))


def test_unreadable_images_are_listed_and_skipped(good_paths, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    events = list(train(_plan([*good_paths[:8], bad], tmp_path / "m.safetensors", 1)))
    skipped = events[0].extra["skipped"]
    assert [Path(p).name for p, _ in skipped] == ["broken.jpg"]


def test_empty_folder_is_a_dataset_error(tmp_path):
    plan = TrainPlan(tmp_path, tmp_path / "m.safetensors", preset("micro", 64), TrainConfig(steps=1))
    with pytest.raises(DatasetError) as info:
        list(train(plan))
    assert str(tmp_path) in str(info.value)


def test_crop_training_keeps_the_model_size_and_trains_on_windows(good_paths, tmp_path):
    from draem_core.training_data import TrainingImages

    images = torch.arange(2 * 3 * 64 * 96, dtype=torch.float32).reshape(2, 3, 64, 96).remainder(256).byte()
    data = TrainingImages(images, images[:0], [], [])
    crops = data.batch(5, torch.Generator().manual_seed(0), torch.device("cpu"), crop=(32, 48))
    assert crops.shape == (5, 3, 32, 48)
    full = images.float() / 255
    for c in crops:  # every crop is a window of one of the images
        assert any((full[i].unfold(1, 32, 1).unfold(2, 48, 1) == c[:, None, None]).all(0).all(-1).all(-1).any()
                   for i in range(2))  # fmt: skip
    cfg = TrainConfig(steps=2, batch_size=2, crop=(32, 32), checkpoint_every=0)
    out = tmp_path / "m.safetensors"
    plan = TrainPlan(good_paths[0].parent, out, preset("micro", (64, 160)), cfg, images=tuple(good_paths[:8]))
    assert list(train(plan))[-1].kind == "done"
    _, meta = load_model(out)
    assert (meta.model.image_height, meta.model.image_width) == (64, 160)


def _odd_named_folder(root: Path) -> Path:
    """Four small images, two of them named in Latin-1 on a UTF-8 system (as a copy from an old PC leaves them)."""
    import os

    import cv2

    rng = np.random.default_rng(0)
    root.mkdir()
    for name in [b"a.png", b"caf\xe9.png", b"\xff\xfe.png", b"b.png"]:
        cv2.imencode(".png", (rng.random((40, 40, 3)) * 255).astype(np.uint8))[1].tofile(
            os.fsdecode(os.fsencode(root) + b"/" + name)
        )
    return root


def test_file_names_that_are_not_utf8_train_to_the_end_and_resume(tmp_path):
    folder = _odd_named_folder(tmp_path / "good")
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(steps=2, batch_size=2, checkpoint_every=1, holdout_fraction=0.0)
    assert list(train(TrainPlan(folder, out, preset("micro", (32, 32)), cfg)))[-1].kind == "done"
    _, meta = load_model(out)
    assert len(meta.dataset_fingerprint) == 64 and meta.training["n_train"] == 4
    more = TrainConfig(steps=3, batch_size=2, checkpoint_every=0, holdout_fraction=0.0)
    plan = TrainPlan(folder, out, preset("micro", (32, 32)), more, resume=checkpoint_path(out))
    assert [e.step for e in train(plan) if e.kind == "step"] == [3]  # the paths round-trip through the checkpoint


def test_temp_files_of_an_interrupted_write_are_removed_at_start(good_paths, tmp_path):
    out = tmp_path / "m.safetensors"
    ours = [tmp_path / ".m.safetensors.k1ll3d_1.tmp", tmp_path / ".m.ckpt.safetensors.k1ll3d_2.tmp"]
    theirs = [tmp_path / ".other.safetensors.k1ll3d_3.tmp", tmp_path / "m.safetensors.tmp"]
    for p in ours + theirs:
        p.write_bytes(b"\0" * 1000)  # what a kill -9 during a checkpoint write leaves
    events = list(train(_plan(good_paths, out, 1)))
    assert not any(p.exists() for p in ours) and all(p.exists() for p in theirs)
    assert "removed 2 temp files" in events[0].message
    assert sorted(events[0].extra["removed"]) == sorted(str(p) for p in ours)


def test_training_chooses_its_scoring_and_threshold_on_the_validation_split(good_paths, tmp_path):
    from draem_core.inspector import Inspector
    from draem_core.modelfile import load_model_parts
    from draem_core.scoring import STAT_KEYS, Scoring
    from draem_core.threshold import TradeOff
    from draem_core.train import finish_again
    from draem_core.validation import CANDIDATES

    out = tmp_path / "m.safetensors"
    list(train(_plan(good_paths, out, 4, checkpoint_every=4)))
    _, meta, extra = load_model_parts(out)
    scoring = meta.scoring
    assert set(scoring["validation"]) == {c.label for c in CANDIDATES}
    best = max(v["auroc"] for v in scoring["validation"].values())
    label = Scoring.from_dict(scoring).label
    assert scoring["validation"][label]["auroc"] == best and "held-out" in scoring["chosen_on"]
    assert (set(STAT_KEYS) <= set(extra)) == scoring["method"].startswith("normalized")
    tradeoff = TradeOff.from_dict(meta.calibration["tradeoff"])
    assert tradeoff.n_good == 4 and tradeoff.n_synthetic > 0 and tradeoff.chosen.target_frr == 0.01
    assert meta.calibration["threshold"] == tradeoff.chosen.threshold > max(meta.training["holdout_scores"])
    assert Inspector.from_file(out, "cpu").threshold == meta.calibration["threshold"]
    again = finish_again(checkpoint_path(out), tmp_path / "again.safetensors", target_frr=0.05)
    assert again.scoring["method"] == scoring["method"] and again.calibration["target_false_reject"] == 0.05


def test_channels_last_training_computes_the_same_losses(good_paths, tmp_path):
    """NHWC on the CPU is a memory layout, not another computation: the same seed gives the same first loss
    (same initial weights, same batch) and the same trajectory (Adam's steps then differ only by rounding)."""
    from dataclasses import replace

    losses = []
    for layout in (False, True):
        plan = _plan(good_paths, tmp_path / f"cl{layout}.safetensors", 4)
        plan = replace(plan, train=replace(plan.train, channels_last=layout))
        losses.append([e.loss for e in train(plan) if e.kind == "step"])
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-5)
    assert losses[0] == pytest.approx(losses[1], rel=1e-2)
