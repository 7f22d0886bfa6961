"""`train --align` on the demo line: the model stores its reference part, aligns frames, puts maps back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli.main import main
from app.sources.demo_dataset import DemoDatasetPlan, write_demo_dataset
from app.sources.demo_line import DemoLineConfig
from draem_core.alignment import AlignmentError, aligned_crop, map_to_frame
from draem_core.dataset import item_mask
from draem_core.evaluate import evaluate
from draem_core.imageio import read_image
from draem_core.inspector import Inspector
from draem_core.modelfile import load_model

W, H = 320, 240
ROI = (56, 16, 208, 208)  # the demo part's centre ± its largest shift + the flange radius, at 320x240


@pytest.fixture(scope="module")
def aligned_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("aligned")
    data = root / "demo"
    write_demo_dataset(DemoDatasetPlan(data, 3, 6, 12, DemoLineConfig(width=W, height=H, seed=4)))
    out = root / "m.safetensors"
    roi = ",".join(map(str, ROI))
    code = main(["train", str(data), "--roi", roi, "--align", "--out", str(out), "--preset", "micro",
                 "--size", "64", "--steps", "3", "--batch", "2", "--rotate-p", "0", "--device", "cpu"])  # fmt: skip
    assert code == 0
    return out, data


def test_model_file_stores_the_reference_part(aligned_model):
    out, data = aligned_model
    _, meta = load_model(out)
    assert meta.roi == ROI
    assert meta.alignment["frame_shape"] == [H, W] and meta.alignment["roi"] == list(ROI)
    first = read_image(sorted((data / "train" / "good").iterdir())[0])  # the reference is the first image
    inspector = Inspector.from_file(out, "cpu")
    assert inspector.aligner.matrix(first) == pytest.approx(np.eye(2, 3), abs=0.05)


def test_heatmap_lies_on_the_part_where_it_is_in_the_frame(aligned_model):
    out, data = aligned_model
    inspector = Inspector.from_file(out, "cpu")
    frame = read_image(sorted((data / "test" / "good").iterdir())[1])
    result = inspector.inspect(frame)
    m = inspector.aligner.matrix(frame)
    coverage = map_to_frame(np.ones((ROI[3], ROI[2]), np.float32), m, ROI, frame.shape)
    assert result.anomaly_map.shape == (H, W)
    assert (result.anomaly_map[coverage > 0.999] > 0).all()  # the map (softmax, never 0) covers the moved region
    assert result.anomaly_map[coverage == 0].max() == 0  # and nothing else
    assert abs(m[0, 2]) + abs(m[1, 2]) > 2  # this part lies elsewhere than the reference part


def test_evaluation_aligns_images_and_masks_alike(aligned_model, tmp_path):
    out, data = aligned_model
    inspector = Inspector.from_file(out, "cpu")
    report, scored, skipped = evaluate(inspector, data)
    assert not skipped and len(scored) == 9 and report.pixel_auroc == report.pixel_auroc  # computed, not NaN
    defect = next(s for s in scored if s.item.label == 1)
    assert defect.matrix is not None
    mask = item_mask(defect.item, (ROI[3], ROI[2]), ROI, defect.matrix)
    frame_mask = read_image(defect.item.mask_path) > 0
    expected = aligned_crop(frame_mask.astype(np.uint8), defect.matrix, ROI, nearest=True) > 0
    assert mask.sum() > 0 and (mask == expected).mean() > 0.999
    assert main(["eval", str(data), "--model", str(out), "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["image_auroc"] == pytest.approx(report.image_auroc)


def test_frames_of_another_camera_size_are_named(aligned_model):
    out, _ = aligned_model
    inspector = Inspector.from_file(out, "cpu")
    with pytest.raises(AlignmentError, match="640x480 frame; the model aligns 320x240 frames"):
        inspector.inspect(np.zeros((480, 640, 3), np.uint8))



def test_live_view_outlines_the_region_where_the_part_lies(aligned_model, qtbot):
    from app.gui.live_view import LiveView
    from app.pipeline.record import LiveResult
    from app.sources.base import Frame

    out, data = aligned_model
    inspector = Inspector.from_file(out, "cpu")
    frame = read_image(sorted((data / "test" / "good").iterdir())[1])
    result = inspector.inspect(frame)
    view = LiveView()
    qtbot.addWidget(view)
    assert view.show_live(LiveResult(1, Frame(frame, 1, 0.0), result, None, 1.0, 1.0))
    xs, ys = view.region.getData()
    x0, y0 = result.matrix @ np.array([ROI[0], ROI[1], 1.0])  # the region's corner, moved with the part
    assert (xs[0], ys[0]) == pytest.approx((x0, y0), abs=1e-3)
    assert (xs[0], ys[0]) != pytest.approx((ROI[0], ROI[1]), abs=1.0)
    assert view.region_shown() == ROI


def test_a_resumed_run_keeps_aligning(aligned_model, tmp_path):
    out, data = aligned_model
    ckpt = out.with_name("m.ckpt.safetensors")
    assert ckpt.is_file()
    resumed = tmp_path / "resumed.safetensors"
    code = main(["train", str(data), "--resume", str(ckpt), "--out", str(resumed), "--preset", "micro",
                 "--size", "64", "--steps", "4", "--batch", "2", "--rotate-p", "0", "--device", "cpu"])  # fmt: skip
    assert code == 0
    _, meta = load_model(resumed)
    _, first = load_model(out)
    assert meta.training["steps"] == 4 and meta.roi == ROI
    assert meta.alignment == first.alignment  # the same reference part, without --align or --roi on the command


def test_a_model_with_a_broken_reference_is_refused_by_name(aligned_model, tmp_path):
    from dataclasses import replace

    from draem_core.errors import ModelFileError
    from draem_core.modelfile import save_model

    out, _ = aligned_model
    model, meta = load_model(out)
    broken = tmp_path / "broken.safetensors"
    save_model(broken, model, replace(meta, alignment={**meta.alignment, "reference_png": "!!"}))
    with pytest.raises(ModelFileError, match=r"broken\.safetensors: the model's alignment reference is unreadable"):
        Inspector.from_file(broken, "cpu")


def test_align_scale_is_stored_and_checked(aligned_model, tmp_path, capsys):
    _, data = aligned_model
    out = tmp_path / "half.safetensors"
    roi = ",".join(map(str, ROI))
    args = ["train", str(data), "--roi", roi, "--align", "--out", str(out), "--preset", "micro", "--size", "64",
            "--steps", "1", "--batch", "2", "--rotate-p", "0", "--device", "cpu"]  # fmt: skip
    assert main([*args, "--align-scale", "0.5"]) == 0
    _, meta = load_model(out)
    assert meta.alignment["scale"] == 0.5
    assert Inspector.from_file(out, "cpu").aligner.reference.shape == (H // 2, W // 2)
    with pytest.raises(SystemExit):
        main([*args, "--align-scale", "3"])
    assert "'3' is not a scale between 0.05 and 1" in capsys.readouterr().err


def test_the_retrain_wizard_keeps_the_deployed_models_alignment(aligned_model, tmp_path):
    from app.retrain.plan import RetrainPlan
    from app.wizard.configure_page import deployed_region, make_preview

    out, data = aligned_model

    def train(name: str, *extra: str):
        model = tmp_path / name
        assert main(["train", str(data), "--roi", ",".join(map(str, ROI)), *extra, "--out", str(model), "--preset",
                     "micro", "--size", "64", "--steps", "1", "--batch", "2", "--device", "cpu"]) == 0  # fmt: skip
        return model

    assert deployed_region(out) == (ROI, 0.25)
    assert deployed_region(train("half.safetensors", "--align", "--align-scale", "0.5")) == (ROI, 0.5)
    assert deployed_region(train("plain.safetensors")) == (ROI, None)

    images = sorted((data / "train" / "good").iterdir())
    plan = RetrainPlan(dataset=data, images=images * 2, roi=ROI, align=True, align_scale=0.5, preset="micro")
    assert plan.to_train_plan(tmp_path / "new.safetensors").align_scale == 0.5  # a retrain registers as deployed
    previews = make_preview(images[:3], (64, 64), None, ROI, 0.5)
    assert previews and all(p.ndim == 3 and p.shape[2] == 3 for p in previews)
