"""The model commands' contract: outputs, JSON keys, and one-line errors with a non-zero exit."""

import json
import shutil

import cv2
import numpy as np
import pytest

from app.cli.main import main
from draem_core.modelfile import load_model
from draem_core.scoring import Scoring


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_model_info_json(capsys):
    code, out, _ = run(capsys, "model-info", "--preset", "paper", "--json")
    info = json.loads(out)
    assert code == 0 and info["params"] == 97_422_725 and info["gflops"] == pytest.approx(396, rel=0.01)


def test_model_info_of_a_file(capsys, tiny_model):
    code, out, _ = run(capsys, "model-info", "--model", tiny_model, "--json")
    info = json.loads(out)
    assert code == 0 and info["preset"] == "micro" and info["calibration"]["threshold"] > 0


@pytest.fixture(scope="module")
def small_mvtec(tmp_path_factory, ball_screw):
    """A tiny real test set: 3 good and 3 pitting images with masks."""
    root = tmp_path_factory.mktemp("bs")
    for sub, n in (("test/good", 3), ("test/pitting", 3)):
        (root / sub).mkdir(parents=True)
        for p in sorted((ball_screw / sub).glob("*.jpg"))[:n]:
            shutil.copy(p, root / sub / p.name)
            if sub.endswith("pitting"):
                (root / "ground_truth/pitting").mkdir(parents=True, exist_ok=True)
                shutil.copy(
                    ball_screw / "ground_truth/pitting" / f"{p.stem}_mask.png", root / "ground_truth/pitting"
                )
    return root


def test_eval_writes_json_with_the_contract_keys_and_plots(capsys, tiny_model, small_mvtec, tmp_path):
    code, out, _ = run(
        capsys,
        "eval",
        small_mvtec,
        "--model",
        tiny_model,
        "--json",
        tmp_path / "m.json",
        "--plots",
        tmp_path / "plots",
    )
    assert code == 0 and "image_auroc" in out
    doc = json.loads((tmp_path / "m.json").read_text())
    keys = {
        "image_auroc",
        "pixel_auroc",
        "pixel_ap",
        "aupro",
        "threshold",
        "false_reject_rate",
        "escape_rate",
        "n_good",
        "n_defect",
    }
    assert keys <= set(doc) and doc["n_good"] == 3 and doc["n_defect"] == 3
    assert 0 <= doc["pixel_auroc"] <= 1
    per_type = doc["per_type"]  # per defect type: AUROC and escapes at the threshold; good: FRR and its bound
    assert per_type["pitting"]["n"] == 3 and 0 <= per_type["pitting"]["image_auroc"] <= 1
    assert per_type["pitting"]["escapes"] == round(doc["escape_rate"] * 3)
    assert per_type["good"]["false_reject_upper_95"] > per_type["good"]["false_reject_rate"]
    assert doc["scoring"] in ("paper", "topk", "normalized-paper", "normalized-topk")
    assert doc["scoring_label"] == Scoring.from_dict(load_model(tiny_model)[1].scoring).label
    assert 0 <= doc["paper_image_auroc"] <= 1 and "pitting" in out and "true rate <=" in out
    for name in ("roc.png", "histogram.png", "per_type.png", "worst_good.png", "worst_defects.png"):
        assert cv2.imread(str(tmp_path / "plots" / name)) is not None, name


def test_predict_writes_overlays_and_json(capsys, tiny_model, good_paths, tmp_path):
    code, out, _ = run(
        capsys,
        "predict",
        good_paths[0],
        good_paths[1],
        "--model",
        tiny_model,
        "--out",
        tmp_path / "o",
        "--json",
        tmp_path / "p.json",
    )
    assert code == 0
    rows = json.loads((tmp_path / "p.json").read_text())
    assert [r["verdict"] in ("OK", "NG") for r in rows] == [True, True]
    overlay = cv2.imread(rows[0]["overlay"])
    assert overlay.shape[:2] == cv2.imread(str(good_paths[0])).shape[:2]


def test_synth_grid(capsys, tmp_path, good_paths):
    code, _, _ = run(
        capsys,
        "synth",
        "--out",
        tmp_path / "s.png",
        "--n",
        4,
        "--images",
        good_paths[0].parent,
        "--size",
        "64",
    )
    image = cv2.imread(str(tmp_path / "s.png"))
    assert code == 0 and image.shape == (3 * 64, 4 * 64, 3)


def test_export_onnx(capsys, tiny_model, tmp_path):
    pytest.importorskip("onnx")
    code, _, _ = run(capsys, "export-onnx", "--model", tiny_model, "--out", tmp_path / "m.onnx")
    import onnx

    graph = onnx.load(str(tmp_path / "m.onnx")).graph
    assert code == 0 and [o.name for o in graph.output] == ["anomaly_map", "score"]


# --- bad input: one line, non-zero exit, nothing half-written ---------------------------------------------


def _one_line_error(code, err, *needles):
    assert code != 0
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    for n in needles:
        assert str(n) in lines[0]


def test_train_missing_folder(capsys, tmp_path):
    code, _, err = run(capsys, "train", tmp_path / "nope", "--out", tmp_path / "m.safetensors", "--steps", 1)
    _one_line_error(code, err, tmp_path / "nope", "does not exist")
    assert not (tmp_path / "m.safetensors").exists()


def test_train_empty_folder(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "train", tmp_path / "empty", "--out", tmp_path / "m.safetensors", "--steps", 1)
    _one_line_error(code, err, tmp_path / "empty")


def test_train_only_unreadable_images(capsys, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"garbage")
    code, _, err = run(
        capsys,
        "train",
        folder,
        "--out",
        tmp_path / "m.safetensors",
        "--steps",
        1,
        "--preset",
        "micro",
        "--size",
        "64",
    )
    assert code != 0
    assert "0.png" in err and "readable" in err.strip().splitlines()[-1]
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("content", [b"", b"junk" * 50])
def test_eval_and_predict_with_bad_model(capsys, tmp_path, good_paths, content):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    code, _, err = run(capsys, "eval", good_paths[0].parent, "--model", bad)
    _one_line_error(code, err, bad)
    code, _, err = run(capsys, "predict", good_paths[0], "--model", bad, "--out", tmp_path / "o")
    _one_line_error(code, err, bad)
    assert not (tmp_path / "o").exists()


def test_predict_lists_unreadable_images_and_goes_on(capsys, tiny_model, good_paths, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG but not really")
    code, out, err = run(
        capsys, "predict", broken, good_paths[0], "--model", tiny_model, "--out", tmp_path / "o"
    )
    assert code == 1 and "broken.png" in err and good_paths[0].name in out


def test_grayscale_16bit_and_odd_images_are_read(capsys, tiny_model, tmp_path):
    gray16 = np.arange(90 * 130, dtype=np.uint16).reshape(90, 130) * 5
    cv2.imwrite(str(tmp_path / "g16.png"), gray16)
    cv2.imwrite(str(tmp_path / "rgba.png"), np.full((40, 300, 4), 120, np.uint8))
    cv2.imwrite(str(tmp_path / "small.bmp"), np.full((7, 9, 3), 30, np.uint8))
    code, out, _ = run(
        capsys,
        "predict",
        tmp_path / "g16.png",
        tmp_path / "rgba.png",
        tmp_path / "small.bmp",
        "--model",
        tiny_model,
        "--out",
        tmp_path / "o",
    )
    assert code == 0 and out.count("raw") == 3


def test_train_options_reach_the_run(capsys, good_paths, tmp_path):
    from draem_core.checkpoint import checkpoint_path
    from draem_core.modelfile import read_file
    from draem_core.version import CHECKPOINT_FORMAT, MODEL_FORMAT

    data = tmp_path / "good"
    data.mkdir()
    for p in good_paths[:8]:
        shutil.copy(p, data / p.name)
    out = tmp_path / "m.safetensors"
    code, text, _ = run(
        capsys,
        "train",
        data,
        "--out",
        out,
        "--preset",
        "micro",
        "--size",
        "64x96",
        "--steps",
        1,
        "--batch",
        2,
        "--rotate-p",
        0,
        "--self-paste-p",
        0.5,
        "--crop",
        32,
        "--half-weights",
    )
    assert code == 0 and out.exists()
    # the validation split's escapes, per kind of synthetic anomaly, for every candidate scoring
    assert text.count("(texture ") == 4 and all(f"{k} " in text for k in ("cut-paste", "scratch", "wipe"))
    tensors, _ = read_file(out, MODEL_FORMAT)
    assert {str(t.dtype) for t in tensors.values() if t.is_floating_point()} == {"torch.float16"}
    _, doc = read_file(checkpoint_path(out), CHECKPOINT_FORMAT)
    train_cfg = doc["settings"]["train"]
    assert (
        train_cfg["synth"]["p_rotate"] == 0 and train_cfg["crop"] == [32, 32] and train_cfg["batch_size"] == 2
    )
    assert train_cfg["synth"]["p_self"] == 0.5 and load_model(out)[1].training["self_paste_p"] == 0.5


def test_train_roi_option_and_the_region_in_every_command(capsys, good_paths, small_mvtec, tmp_path):
    data = tmp_path / "good"
    data.mkdir()
    for p in good_paths[:8]:
        shutil.copy(p, data / p.name)
    out = tmp_path / "r.safetensors"
    code, _, err = run(capsys, "train", data, "--out", out, "--preset", "micro", "--size", "64x96", "--steps", 1,
                       "--batch", 2, "--roi", "150,20,240x190")  # fmt: skip
    assert code == 0 and "of the region 240x190 at (150, 20)" in err
    code, info, _ = run(capsys, "model-info", "--model", out, "--json")
    assert json.loads(info)["roi"] == [150, 20, 240, 190]
    code, text, _ = run(capsys, "eval", small_mvtec, "--model", out, "--json", tmp_path / "e.json")
    assert code == 0 and "inspection region 240x190 at (150, 20)" in text
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((200, 300, 3), 90, np.uint8))
    code, text, err = run(capsys, "predict", good_paths[0], small, "--model", out, "--out", tmp_path / "o")
    assert code == 1 and good_paths[0].name in text
    assert "frame of 300x200 pixels does not contain the model's inspection region 240x190 at (150, 20)" in err
    code, text, _ = run(capsys, "export-onnx", "--model", out, "--out", tmp_path / "r.onnx")
    assert code == 0 and "crop frames to it" in text


def test_train_roi_must_be_four_numbers(capsys, good_paths, tmp_path):
    code, _, err = run(capsys, "train", good_paths[0].parent, "--out", tmp_path / "m.safetensors", "--roi", "10,10")
    assert code == 2 and "inspection region '10,10' is not X,Y,WIDTH,HEIGHT" in err


def test_calibrate_sets_the_threshold_from_more_good_images(capsys, region_model, ball_screw, tmp_path):
    from draem_core.inspector import Inspector
    from draem_core.modelfile import read_file
    from draem_core.version import MODEL_FORMAT

    good = tmp_path / "good"
    good.mkdir()
    for p in sorted((ball_screw / "test" / "good").glob("*.jpg"))[:12]:
        shutil.copy(p, good / p.name)
    (good / "broken.png").write_bytes(b"not an image")
    cv2.imwrite(str(good / "small.png"), np.full((100, 100, 3), 90, np.uint8))  # lacks the model's region
    before = read_file(region_model, MODEL_FORMAT)
    out = tmp_path / "cal.safetensors"
    code, text, err = run(capsys, "calibrate", good, "--model", region_model, "--out", out)  # device auto
    assert code == 0 and "from 12 good images" in text and "broken.png" in err and "small.png" in err
    assert "escape synth" in text and "<- default" in text and "FRR 1.00%" in text  # the trade-off table
    insp = Inspector.from_file(out, "cpu")
    scores = [insp.inspect(cv2.imread(str(p))[:, :, ::-1].copy()).score for p in sorted(good.glob("*.jpg"))]
    assert insp.calibration.n_good == 12 and insp.threshold > max(scores)  # above every calibration score
    assert insp.meta.training["recalibrated"]["n_good"] == 12 and list(insp.meta.roi) == before[1]["roi"]
    tensors, doc = read_file(out, MODEL_FORMAT)
    assert all(torch_equal(tensors[k], before[0][k]) for k in before[0])  # the weights are untouched
    assert read_file(region_model, MODEL_FORMAT)[1] == before[1]  # the input file is untouched
    code, _, err = run(capsys, "calibrate", tmp_path / "nowhere", "--model", region_model, "--out", out)
    assert code == 2 and "nowhere" in err


def torch_equal(a, b) -> bool:
    import torch

    return a.dtype == b.dtype and torch.equal(a, b)


def test_eval_refuses_a_defect_folder_it_cannot_read(capsys, tiny_model, small_mvtec, tmp_path):
    import os

    root = tmp_path / "set"
    shutil.copytree(small_mvtec, root)
    shutil.rmtree(root / "test/pitting")
    os.symlink("pitting", root / "test/pitting")  # a folder that cannot be listed (ELOOP, even for root)
    code, out, err = run(capsys, "eval", root, "--model", tiny_model, "--device", "cpu")
    _one_line_error(code, err, "pitting", "cannot be read")  # before: exit 0 with n_defect 0
    assert out == ""


def test_eval_refuses_a_class_none_of_whose_images_can_be_read(capsys, tiny_model, small_mvtec, tmp_path):
    root = tmp_path / "set"
    shutil.copytree(small_mvtec, root)
    for p in (root / "test/pitting").iterdir():
        p.write_bytes(b"\xff\xd8 truncated")
    code, _, err = run(capsys, "eval", root, "--model", tiny_model, "--device", "cpu")
    assert code == 2 and "none of the 3 images of 'pitting' could be read" in err.splitlines()[-1]


def test_predict_prints_a_name_that_is_not_utf8_escaped(capsys, tiny_model, good_paths, tmp_path):
    import os

    odd = os.fsdecode(os.fsencode(tmp_path) + b"/pi\xe8ce.jpg")  # Latin-1 name on a UTF-8 system
    shutil.copy(good_paths[0], odd)
    code, out, _ = run(capsys, "predict", odd, "--model", tiny_model, "--out", tmp_path / "o", "--json",
                       tmp_path / "r.json", "--device", "cpu")  # fmt: skip
    assert code == 0 and out.rstrip().endswith("pi\\xe8ce.jpg")
    assert json.loads((tmp_path / "r.json").read_text())[0]["image"] == odd  # the path round-trips


def test_calibrate_with_marked_defects_reports_their_escapes(capsys, region_model, ball_screw, tmp_path):
    good, defects = tmp_path / "good", tmp_path / "defects"
    good.mkdir()
    defects.mkdir()
    for p in sorted((ball_screw / "test" / "good").glob("*.jpg"))[:8]:
        shutil.copy(p, good / p.name)
    kind = next(d for d in sorted((ball_screw / "test").iterdir()) if d.name != "good")
    for p in sorted(kind.glob("*.jpg"))[:4]:
        shutil.copy(p, defects / p.name)
    out = tmp_path / "cal.safetensors"
    code, text, err = run(capsys, "calibrate", good, "--model", region_model, "--out", out, "--defects", defects)
    assert code == 0, err
    assert "escape marked" in text  # the trade-off table has the marked defects' column


def test_train_without_size_takes_the_images_aspect(capsys, good_paths, tmp_path):
    from draem_core.defaults import dataset_input_size
    from draem_core.inspector import Inspector

    data = tmp_path / "good"
    data.mkdir()
    for p in good_paths[:6]:
        shutil.copy(p, data / p.name)
    out = tmp_path / "m.safetensors"
    code, _, err = run(capsys, "train", data, "--out", out, "--preset", "micro", "--steps", 1, "--batch", 2)
    assert code == 0, err
    expected = dataset_input_size(sorted(data.iterdir()))
    assert tuple(Inspector.from_file(out, "cpu").size) == expected and expected[0] != expected[1]


@pytest.mark.parametrize("value", ["1.5", "-0.1", "half"])
def test_a_self_paste_share_outside_zero_to_one_is_refused_with_one_line(capsys, tmp_path, value):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--self-paste-p", value])
    assert exc.value.code == 2
    assert f"{value!r} is not a probability between 0 and 1" in capsys.readouterr().err


def test_eval_names_the_scoring_with_its_pooling_size(capsys, tiny_model, small_mvtec, tmp_path):
    from dataclasses import replace

    from draem_core.modelfile import save_model

    model, meta = load_model(tiny_model)
    topk = tmp_path / "topk.safetensors"
    save_model(topk, model, replace(meta, scoring=Scoring("topk", topk=0.05).to_dict()))
    code, _, err = run(capsys, "eval", small_mvtec, "--model", topk, "--json", tmp_path / "t.json")
    assert code == 0, err
    doc = json.loads((tmp_path / "t.json").read_text())
    assert doc["scoring"] == "topk" and doc["scoring_label"] == "topk 5%"
