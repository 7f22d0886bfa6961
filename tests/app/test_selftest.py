import json

import pytest

from app.cli.main import main


@pytest.mark.camera
def test_self_test_passes_and_writes_its_report(tiny_model, tmp_path, capsys):
    report = tmp_path / "report.json"
    code = main(["self-test", "--model", str(tiny_model), "--frames", "6", "--report", str(report)])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(report.read_text())
    assert doc["ok"] and doc["failed"] == []
    checks = doc["checks"]
    assert checks["demo_line"]["inspections"] >= 6
    assert sum(checks["demo_line"]["verdicts"].values()) == checks["demo_line"]["inspections"]
    assert checks["simulated_camera"]["inspections"] >= 6
    assert checks["genicam_producers"]["simulator_devices"] == 3
    assert checks["versions"]["torch"]


def test_self_test_names_what_failed(tmp_path, capsys):
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(b"\x00" * 100)
    report = tmp_path / "report.json"
    code = main(["self-test", "--model", str(bad), "--frames", "2", "--report", str(report)])
    err = capsys.readouterr().err
    assert code != 0 and "model" in err and str(bad) in err
    doc = json.loads(report.read_text())
    assert doc["ok"] is False and "model" in doc["failed"]
