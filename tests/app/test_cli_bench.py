"""`draem-inspect bench` and the --backend options of predict and eval: the JSON contract, the cache in the data
folder, one-line errors."""

import importlib.util
import json
import shutil

import cv2
import pytest

from app.cli.main import main

ORT = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None,
    reason='optional backend package not installed: onnxruntime, onnx (pip install -e ".[onnxruntime]")',
)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("DRAEM_INSPECT_HOME", str(home))
    return home


def test_bench_prints_the_contract_keys_for_demo_frames(capsys, tiny_model):
    code, out, _ = run(capsys, "bench", "--model", tiny_model, "--frames", "4", "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["backend"] == "torch" and doc["frames"] == 4 and doc["fps"] > 0
    assert 0 < doc["ms_p50"] <= doc["ms_p95"]
    assert doc["source"].startswith("demo line") and doc["frame"] == [480, 640, 3]


def test_bench_on_an_image_folder_cycles_its_images(capsys, tiny_model, good_paths):
    code, out, _ = run(capsys, "bench", "--model", tiny_model, "--frames", "5", "--images", good_paths[0].parent, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["frames"] == 5 and doc["source"] == str(good_paths[0].parent)
    first = cv2.imread(str(sorted(good_paths[0].parent.iterdir())[0]))
    assert doc["frame"] == list(first.shape)


def test_bench_without_json_prints_one_summary_line(capsys, tiny_model):
    code, out, _ = run(capsys, "bench", "--model", tiny_model, "--frames", "2")
    assert code == 0 and out.count("\n") == 1 and "frames/s" in out and out.startswith("torch: ")


def test_bench_bad_input_is_one_line(capsys, tiny_model, tmp_path):
    code, _, err = run(capsys, "bench", "--model", tiny_model, "--images", tmp_path / "nope")
    assert code == 2 and err.strip().count("\n") == 0 and "nope: folder does not exist" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "bench", "--model", tiny_model, "--images", tmp_path / "empty")
    assert code == 2 and "empty: no readable images" in err


@ORT
def test_bench_auto_caches_its_choice_in_the_data_folder(capsys, tiny_model, data_home):
    code, out, err = run(capsys, "bench", "--model", tiny_model, "--frames", "3", "--backend", "auto", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["requested"] == "auto"
    assert doc["backend"] == min(doc["auto"]["ms_min"], key=doc["auto"]["ms_min"].get).split(":")[0]
    assert "backend " in err and "auto, fastest of ms per image" in err
    records = json.loads((data_home / "backends" / "records.json").read_text())
    assert len(records["choices"]) == 1 and list(data_home.glob("backends/*/map.onnx"))


@ORT
def test_predict_with_onnxruntime_agrees_with_torch(capsys, tiny_model, good_paths, tmp_path):
    images = good_paths[:2]
    code, _, _ = run(capsys, "predict", *images, "--model", tiny_model, "--out", tmp_path / "t", "--json", tmp_path / "t.json")
    code2, _, err = run(capsys, "predict", *images, "--model", tiny_model, "--out", tmp_path / "o",
                        "--json", tmp_path / "o.json", "--backend", "onnxruntime")  # fmt: skip
    assert code == code2 == 0 and "backend onnxruntime" in err
    torch_doc, ort_doc = (json.loads((tmp_path / f).read_text()) for f in ("t.json", "o.json"))
    for a, b in zip(torch_doc, ort_doc, strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-4) and a["verdict"] == b["verdict"]


def test_int8_without_calibration_images_is_one_line(capsys, tiny_model, good_paths, tmp_path):
    code, _, err = run(capsys, "predict", good_paths[0], "--model", tiny_model, "--out", tmp_path,
                       "--backend", "onnxruntime", "--precision", "int8")  # fmt: skip
    assert code == 2 and err.strip().count("\n") == 0
    assert "backend onnxruntime:int8: " in err and ("good frames" in err or "not installed" in err)


@ORT
def test_calibration_images_are_read_for_int8(capsys, tiny_model, good_paths, tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    for p in good_paths[:16]:
        shutil.copy(p, good / p.name)
    code, out, err = run(capsys, "bench", "--model", tiny_model, "--frames", "2", "--json", "--backend", "onnxruntime",
                         "--precision", "int8", "--calibration", good)  # fmt: skip
    if code != 0:  # refused after validation: a reason, never a traceback, and never for want of good frames
        assert code == 2 and err.strip().count("\n") == 0 and "onnxruntime:int8" in err
        assert "good frames" not in err, err
    else:
        doc = json.loads(out)
        assert (doc["backend"], doc["precision"]) == ("onnxruntime", "int8")
