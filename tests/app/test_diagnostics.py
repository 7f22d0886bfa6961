"""Diagnostics zip: every part from a real data folder, secrets removed, written atomically, from CLI and GUI."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest

from app.cli.main import main
from app.diagnostics import REDACTED, DiagnosticsConfig, collect, read_settings, redact
from app.logs import setup_logging
from app.paths import HOME_ENV
from app.pipeline.record import InspectionRecord
from app.registry import ModelRegistry
from app.trace import TraceConfig, TraceWriter
from draem_core.version import __version__

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_redact_removes_passwords_hashes_tokens_and_keeps_the_rest() -> None:
    settings = {"security/engineer_password": "scrypt$16384$8$1$ab$cd", "mes/api_token": "t0k3n",
                "plc/secret": "s", "custom/anything": "pbkdf2$1000$salt$hash", "model/path": "/m.safetensors",
                "thresholds/abc": 0.4, "source/spec": "camera:SN1"}  # fmt: skip
    out = redact(settings)
    assert [k for k, v in out.items() if v == REDACTED] == list(settings)[:4]
    assert out["model/path"] == "/m.safetensors" and out["thresholds/abc"] == 0.4


@pytest.fixture()
def data_dir(tmp_path: Path, tiny_model: Path) -> Path:
    """A data folder as a station leaves it: trace with 30 rows, a registry with an active version, a log."""
    home = tmp_path / "home"
    writer = TraceWriter(home / "trace.sqlite", TraceConfig(flush_interval_s=0.05))
    for i in range(30):
        writer.append(InspectionRecord(time=1_700_000_000.0 + i, frame_id=i, camera="CAM-1", model_name="m",
                                       model_version="v0001", score=0.1, normalized=0.2, threshold=0.3,
                                       verdict="NG" if i % 7 == 0 else "OK", roi=None, latency_ms=5.0))  # fmt: skip
    assert writer.flush()
    writer.close()
    registry = ModelRegistry(home / "models")
    registry.activate(registry.add(tiny_model).id)
    setup_logging(home, "INFO", console=False)
    return home


def read_zip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.mark.camera
def test_collect_holds_every_part(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "diag.zip"
    settings = {"security/engineer_password": "scrypt$16384$8$1$ab$cd", "model/path": "/m.safetensors"}
    manifest = collect(out, data_dir, settings, DiagnosticsConfig(trace_rows=5, self_test=False))
    files = read_zip(out)
    assert set(files) >= {"manifest.json", "system.json", "settings.json", "cameras.json", "registry.json",
                          "trace-last.csv", "logs/draem-inspect.log"}  # fmt: skip
    assert manifest["errors"].keys() == {"self-test.json"}  # none saved in this data folder yet
    system = json.loads(files["system.json"])
    assert system["versions"]["draem_inspect"] == __version__
    assert {"python", "torch", "opencv", "pyside6", "qt", "harvesters"} <= system["versions"].keys()
    assert system["distributions"]["draem-inspect"] == __version__
    assert "not installed" not in [system["distributions"][n] for n in ("harvesters", "genicam", "PySide6-Essentials")]
    assert json.loads(files["settings.json"]) == {"security/engineer_password": REDACTED, "model/path": "/m.safetensors"}
    rows = list(csv.reader(io.StringIO(files["trace-last.csv"].decode())))
    assert rows[0][:3] == ["time", "frame_id", "camera"] and [int(r[1]) for r in rows[1:]] == [25, 26, 27, 28, 29]
    registry = json.loads(files["registry.json"])
    assert registry["active"] == "v0001" and [v["id"] for v in registry["versions"]] == ["v0001"]
    cameras = json.loads(files["cameras.json"])
    assert sum(c["is_simulator"] for c in cameras["cameras"]) == 3
    assert files["logs/draem-inspect.log"].startswith(f"# draem-inspect {__version__}".encode())
    assert [p.name for p in out.parent.iterdir()] == ["diag.zip"]  # no temporary file left


def test_a_saved_self_test_report_is_included(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    (data_dir / "self-test.json").write_text('{"ok": true}\n')
    monkeypatch.setattr("app.diagnostics.camera_list", lambda _t: {"cameras": []})  # the camera part is above
    out = tmp_path / "diag.zip"
    manifest = collect(out, data_dir, None, DiagnosticsConfig(self_test=False))
    assert manifest["errors"] == {} and json.loads(read_zip(out)["self-test.json"]) == {"ok": True}
    assert "settings.json" not in read_zip(out)


def test_a_failed_write_leaves_the_old_zip_untouched(data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "diag.zip"
    out.write_bytes(b"the previous zip")
    monkeypatch.setattr("app.diagnostics.camera_list", lambda _t: {"cameras": []})

    def full_disk(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("draem_core.imageio.os.replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        collect(out, data_dir, None, DiagnosticsConfig(self_test=False))
    assert out.read_bytes() == b"the previous zip" and [p.name for p in tmp_path.iterdir()].count("diag.zip") == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".diag.zip")]


def test_read_settings_of_a_qsettings_store_removes_the_password_hash(tmp_path: Path) -> None:
    from PySide6.QtCore import QByteArray, QSettings

    from app.access.password import hash_password
    from app.access.policy import PASSWORD_KEY

    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store.setValue(PASSWORD_KEY, hash_password("s3cret-pw", iterations=1000))
    store.setValue("window/geometry", QByteArray(b"\x01\x02\x03"))
    store.setValue("source/spec", "demo")
    values = read_settings(store)
    assert values["security/engineer_password"] == REDACTED and "s3cret" not in json.dumps(values)
    assert values["window/geometry"] == "<3 bytes>" and values["source/spec"] == "demo"
    assert values["_file"].endswith("s.ini")


@pytest.mark.slow
@pytest.mark.camera
def test_cli_diagnostics_runs_a_fresh_self_test(data_dir: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "elsewhere"))  # --data-dir must win (and is restored after)
    out = tmp_path / "d.zip"
    code = main(["diagnostics", "--data-dir", str(data_dir), "--out", str(out), "--frames", "2", "--trace-rows", "3"])
    assert code == 0, capsys.readouterr().err
    files = read_zip(out)
    report = json.loads(files["self-test.json"])
    assert report["checks"]["model"]["ok"] and report["checks"]["demo_line"]["inspections"] >= 2
    assert len(files["trace-last.csv"].decode().splitlines()) == 4
    assert json.loads(files["manifest.json"])["data_dir"] == str(data_dir.resolve())
