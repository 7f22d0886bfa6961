"""Discovery of producers and devices, and the `cameras` / `grab` commands, with the real simulator."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from camera_helpers import requires_simulator

from app.camera.discovery import ENV_VAR, discover, find_producers, list_cameras, simulator_path
from app.cli.main import main
from draem_core.imageio import read_image, write_image_atomic

SIM_SERIALS = ["0", "1", "2"]


def test_producers_from_env_folders_files_and_config(tmp_path):
    folder = tmp_path / "vendor"
    folder.mkdir()
    (folder / "b.cti").write_bytes(b"")
    (folder / "a.CTI").write_bytes(b"")
    (folder / "readme.txt").write_text("not a producer")
    single = tmp_path / "single.cti"
    single.write_bytes(b"")
    env = os.pathsep.join([str(folder), str(tmp_path / "missing"), str(single), str(folder)])
    producers, problems = find_producers([tmp_path / "readme.md"], include_simulator=False, env=env)
    assert [os.path.basename(p.path) for p in producers] == ["a.CTI", "b.cti", "single.cti"]  # de-duplicated
    assert all(p.origin == "env" and not p.is_simulator for p in producers)
    assert any("missing" in p and "does not exist" in p for p in problems)
    assert any("readme.md (configured): does not exist" in p for p in problems)


@pytest.mark.camera
@requires_simulator
def test_simulator_is_listed_with_its_three_devices():
    producers, _ = find_producers(env="")
    assert [p.origin for p in producers] == ["simulator"] and producers[0].is_simulator
    cameras = list_cameras(producers)
    assert sorted(c.serial for c in cameras) == SIM_SERIALS
    red = next(c for c in cameras if c.serial == "0")
    assert (red.vendor, red.model, red.device_id, red.access_status) == (
        "Machine Vision Games Ltd.",
        "Viky",
        "VikyTL_DEV_red",
        "ReadWrite",
    )
    assert red.producer == str(simulator_path().resolve()) and red.is_simulator


@pytest.mark.camera
@requires_simulator
def test_isolated_discovery_matches(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "")
    found = discover(isolated=True)
    assert sorted(c.serial for c in found.cameras) == SIM_SERIALS
    assert discover(include_simulator=False).cameras == ()


@pytest.mark.camera
@requires_simulator
def test_cli_cameras_json(capsys, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "")
    assert main(["cameras", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sorted(c["serial"] for c in doc["cameras"]) == SIM_SERIALS
    assert {c["vendor"] for c in doc["cameras"]} == {"Machine Vision Games Ltd."}
    assert all(c["is_simulator"] and c["producer"].endswith("viky.cti") for c in doc["cameras"])
    assert main(["cameras"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["serial", "vendor", "model"]
    assert sum("Machine Vision Games Ltd." in line and "yes" in line for line in table) == 3


@pytest.mark.camera
@requires_simulator
def test_cli_grab_sim(tmp_path, capsys):
    out = tmp_path / "frames"
    assert (
        main(
            [
                "grab",
                "--camera",
                "sim",
                "--frames",
                "5",
                "--out",
                str(out),
                "--set",
                "Width=208",
                "--set",
                "AcquisitionFrameRate=100",
            ]
        )
        == 0
    )
    files = sorted(out.glob("*.png"))
    assert [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(5)]
    assert read_image(files[0]).shape == (400, 208, 3)
    printed = capsys.readouterr().out
    assert "saved 5 frames" in printed and "fps achieved" in printed and "dropped" in printed


@pytest.mark.camera
@requires_simulator
def test_cli_grab_errors_are_one_line(tmp_path, capsys):
    assert (
        main(["grab", "--camera", "sim", "--frames", "1", "--out", str(tmp_path), "--set", "Width=5000"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == "draem-inspect grab: error: camera 0: feature Width: 5000 is above the maximum 800"


def test_cli_grab_folder_and_bad_set(tmp_path, capsys):
    for i in range(3):
        write_image_atomic(tmp_path / "in" / f"{i}.png", np.full((8, 8), i * 50, np.uint8))
    assert (
        main(["grab", "--camera", f"folder:{tmp_path / 'in'}", "--frames", "4", "--out", str(tmp_path / "o")])
        == 0
    )
    assert len(list((tmp_path / "o").glob("*.png"))) == 4  # looped past the 3 files
    assert (
        main(["grab", "--camera", f"folder:{tmp_path / 'in'}", "--out", str(tmp_path), "--set", "Gain"]) == 2
    )
    assert "expected FEATURE=VALUE" in capsys.readouterr().err
