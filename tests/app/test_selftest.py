"""The real ``self-test`` command: with the bundled model as shipped, and with models that must fail it."""

import json

import pytest

from app.cli.main import main


@pytest.mark.camera
@pytest.mark.slow
def test_self_test_passes_with_the_bundled_model_as_shipped(tmp_path, capsys):
    report = tmp_path / "report.json"
    code = main(["self-test", "--frames", "6", "--report", str(report)])  # no --model: the bundled one
    assert code == 0, capsys.readouterr().err
    doc = json.loads(report.read_text())
    assert doc["ok"] and doc["failed"] == []
    checks = doc["checks"]
    assert checks["model"]["path"].endswith("demo.safetensors") and checks["model"]["aligned"]
    demo = checks["demo_line"]
    assert demo["inspections"] >= 6 and demo["trace_rows"] == demo["inspections"]  # every verdict traced
    assert sum(demo["verdicts"].values()) == demo["inspections"]
    sim = checks["simulated_camera"]
    assert sim["acquisition"]["frames"] >= 10 and sim["acquisition"]["shape"] == [400, 400, 3]
    assert sim["inspection"]["verdicts"] >= 10 and sim["inspection"]["not_judged"] == 0
    configured = sim["configured_model"]  # the demo model's region does not fit the simulator's frames
    assert configured["ok"] == configured["ng"] == 0 and configured["not_judged"] >= 3
    assert configured["outcome"].startswith("NOT_JUDGED as expected") and "region" in configured["reason"]
    assert checks["genicam_producers"]["simulator_devices"] == 3
    assert checks["versions"]["torch"]


def wide_region_model(path):
    """A model whose inspection region is larger than the demo line's 640x480 frames."""
    from dataclasses import replace

    from app.selftest import make_test_model
    from draem_core.modelfile import MODEL_FORMAT, ModelMetadata, read_file, rewrite_metadata

    tensors, doc = read_file(make_test_model(path), MODEL_FORMAT)
    return rewrite_metadata(path, tensors, replace(ModelMetadata.from_dict(doc), roi=(0, 0, 800, 600)))


@pytest.mark.camera
def test_a_model_that_refuses_the_demo_frames_fails_at_once_with_the_reason(tmp_path, capsys):
    # Were refused frames not recorded at once, this would wait for 100000 verdicts (the test's timeout ends it).
    model, report = wide_region_model(tmp_path / "wide.safetensors"), tmp_path / "report.json"
    code = main(["self-test", "--model", str(model), "--frames", "100000", "--timeout", "3000",
                 "--report", str(report)])  # fmt: skip
    err = capsys.readouterr().err
    assert code != 0 and "demo_line" in err
    doc = json.loads(report.read_text())
    assert "demo_line" in doc["failed"]
    assert "NOT_JUDGED: region outside the frame" in doc["checks"]["demo_line"]["error"]


def test_self_test_names_what_failed(tmp_path, capsys):
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(b"\x00" * 100)
    report = tmp_path / "report.json"
    code = main(["self-test", "--model", str(bad), "--frames", "2", "--report", str(report)])
    err = capsys.readouterr().err
    assert code != 0 and "model" in err and str(bad) in err
    doc = json.loads(report.read_text())
    assert doc["ok"] is False and "model" in doc["failed"]
