"""Inspection regions: a model trained on a region of the frame keeps it and inspects, evaluates and calibrates
on exactly that region."""

import cv2
import numpy as np
import pytest
import torch

from draem_core.checkpoint import checkpoint_path
from draem_core.config import TrainConfig, preset
from draem_core.errors import DraemError
from draem_core.evaluate import evaluate
from draem_core.inspector import Inspector
from draem_core.modelfile import load_model, read_file
from draem_core.region import RegionError, crop, parse_roi
from draem_core.train import TrainPlan, train
from draem_core.version import MODEL_FORMAT

ROI = (150, 20, 240, 190)  # the region_model fixture's (tests/conftest.py REGION): x, y, w, h in the 565x230 images


def _plan(paths, out, steps=3, **kw):  # the settings of the region_model fixture
    cfg = TrainConfig(steps=steps, batch_size=4, checkpoint_every=kw.pop("checkpoint_every", 0), seed=5)
    return TrainPlan(paths[0].parent, out, preset("micro", (64, 96)), cfg, images=tuple(paths), **kw)


def test_parse_roi_accepts_both_spellings_and_names_bad_input():
    assert parse_roi("112,32,416,416") == (112, 32, 416, 416)
    assert parse_roi("112,32,416x416") == (112, 32, 416, 416)
    for bad in ("", "1,2,3", "a,b,c,d", "-1,0,10,10", "0,0,0,10"):
        with pytest.raises(DraemError, match="inspection region"):
            parse_roi(bad)


def test_the_model_file_keeps_its_region(region_model):
    _, meta = load_model(region_model)
    assert meta.roi == ROI
    assert read_file(region_model, MODEL_FORMAT)[1]["roi"] == list(ROI)


def test_training_on_a_region_equals_training_on_cropped_files(good_paths, tmp_path, region_model):
    """``--roi`` is exactly "crop the images, then train": same weights as training on pre-cropped files."""
    cropped_dir = tmp_path / "cropped"
    cropped_dir.mkdir()
    cropped = []
    for p in good_paths:
        image = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        q = cropped_dir / f"{p.stem}.png"  # lossless, so the pixels are the same
        cv2.imwrite(str(q), crop(image, ROI))
        cropped.append(q)
    out = tmp_path / "c.safetensors"
    assert list(train(_plan(cropped, out)))[-1].kind == "done"
    a, meta_a = load_model(region_model)
    b, meta_b = load_model(out)
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    assert meta_b.roi is None
    assert meta_a.training["holdout_scores"] == meta_b.training["holdout_scores"]


def test_images_without_the_region_are_reported_not_dropped_silently(good_paths, tmp_path):
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((200, 300, 3), 128, np.uint8))
    events = list(train(_plan([*good_paths, small], tmp_path / "m.safetensors", steps=1, roi=ROI)))
    skipped = dict(events[0].extra["skipped"])
    assert "does not contain the inspection region 240x190 at (150, 20)" in skipped[str(small)]
    assert "1 unreadable skipped" in events[0].message


def test_resume_keeps_the_checkpoints_region(good_paths, tmp_path):
    out = tmp_path / "m.safetensors"
    calls = []

    def stop_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    events = list(train(_plan(good_paths, out, steps=4, roi=ROI), should_stop=stop_after_two))
    assert events[-1].kind == "cancelled"
    resumed = list(train(_plan(good_paths, out, steps=4, resume=checkpoint_path(out))))  # no roi given
    assert resumed[-1].kind == "done"
    assert load_model(out)[1].roi == ROI


def test_inspector_uses_the_models_region(region_model, good_paths):
    insp = Inspector.from_file(region_model, "cpu")
    frame = cv2.imread(str(good_paths[0]))[:, :, ::-1].copy()
    r = insp.inspect(frame)
    x, y, w, h = ROI
    assert r.roi == ROI and r.anomaly_map.shape == frame.shape[:2]
    outside = r.anomaly_map.copy()
    outside[y : y + h, x : x + w] = 0
    assert not outside.any() and r.anomaly_map[y : y + h, x : x + w].any()
    # the region alone gives the same judgement as the frame (it is what the model sees)
    alone = insp.inspect(np.ascontiguousarray(frame[y : y + h, x : x + w]), roi=(0, 0, w, h))
    assert alone.score == pytest.approx(r.score, abs=1e-6)
    # an operator's ROI still overrides the model's region
    assert insp.inspect(frame, roi=(0, 0, 200, 100)).roi == (0, 0, 200, 100)


def test_a_frame_without_the_region_is_refused_with_the_reason(region_model):
    insp = Inspector.from_file(region_model, "cpu")
    with pytest.raises(RegionError, match=r"frame of 320x200 pixels does not contain .* 240x190 at \(150, 20\)"):
        insp.inspect(np.zeros((200, 320, 3), np.uint8))


def test_evaluation_crops_images_and_masks_to_the_region(region_model, ball_screw):
    insp = Inspector.from_file(region_model, "cpu")
    report, scored, skipped = evaluate(insp, ball_screw)
    assert not skipped and scored
    one = next(s for s in scored if s.item.label == 1)
    frame = cv2.imread(str(one.item.path))[:, :, ::-1].copy()
    assert one.score == pytest.approx(insp.inspect(frame).score, abs=1e-6)
    assert report.pixel_auroc is not None


def test_masks_are_cropped_to_the_region_before_the_resize(tmp_path):
    from draem_core.dataset import read_mask

    mask = np.zeros((100, 200), np.uint8)
    mask[40:50, 120:130] = 255  # a defect inside the region x 100..200, y 20..100
    path = tmp_path / "m.png"
    cv2.imwrite(str(path), mask)
    cropped = read_mask(path, (80, 100), roi=(100, 20, 100, 80))  # region at its own size: no resize
    assert cropped.shape == (80, 100) and cropped.sum() == 100
    assert cropped[20:30, 20:30].all()  # the defect moved by the region's offset
    assert read_mask(path, (80, 100)).sum() != cropped.sum()  # without the region it is resized, not cropped
