"""Recipe files: stored atomically, validated field by field on load (one line naming the file and the field), and
``draem-inspect recipe list | save | activate | show | delete``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main
from app.recipes import CameraEntry, Recipe, RecipeError, RecipeStore, parse
from app.reject import RejectConfig


@pytest.fixture(autouse=True)
def data_home(data_dir: Path, monkeypatch) -> Path:
    monkeypatch.setenv("DRAEM_INSPECT_HOME", str(data_dir))
    return data_dir


def test_a_recipe_round_trips_with_per_camera_entries_and_output_settings(tmp_path: Path) -> None:
    store = RecipeStore(tmp_path / "recipes")
    recipe = Recipe("housing-A", (CameraEntry(0, model_version="v0002", roi=(10, 20, 30, 40), threshold=0.31),
                                  CameraEntry(1, model_file="/models/side.safetensors", camera_settings="/cam/side.json")),
                    RejectConfig(pulse_enabled=True, line="Line2", pulse_s=0.08), note="top and side")  # fmt: skip
    path = store.save(recipe)
    assert path == tmp_path / "recipes" / "housing-A.json" and not list(path.parent.glob("*.tmp"))
    loaded = store.load("housing-A")
    assert loaded.cameras == recipe.cameras and loaded.reject == recipe.reject and loaded.note == "top and side"
    assert loaded.created  # stamped when saved
    assert loaded.entry_for(1).model_file == "/models/side.safetensors"
    with pytest.raises(RecipeError, match="camera 3 has none"):
        loaded.entry_for(2)
    single = Recipe("one", (CameraEntry(0, model_version="v0001"),))
    assert store.load(store.save(single).stem).entry_for(3).model_version == "v0001"  # one entry: every camera


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(format="something else"), "format"),
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d["cameras"][0].update(threshold=1.5), "cameras[0].threshold"),
    (lambda d: d["cameras"][0].update(threshold=True), "cameras[0].threshold"),
    (lambda d: d["cameras"][0].update(roi=[1, 2, 0, 4]), "cameras[0].roi"),
    (lambda d: d["cameras"][0].update(model_file="/x.safetensors"), "exactly one of model_version and model_file"),
    (lambda d: d["cameras"][0].update(model_version="latest"), "cameras[0].model_version"),
    (lambda d: d["cameras"][0].update(treshold=0.3), "unknown field cameras[0].treshold"),
    (lambda d: d["cameras"][0].update(camera=2), "cameras[0].camera"),
    (lambda d: d.update(cameras=[]), "cameras must be a list of 1 to 4"),
    (lambda d: d.update(reject={"line": 3}), "reject.line"),
    (lambda d: d.update(reject={"colour": "red"}), "unknown field reject.colour"),
])  # fmt: skip
def test_a_bad_file_is_one_line_naming_the_file_and_the_field(tmp_path: Path, change, field: str) -> None:
    store = RecipeStore(tmp_path)
    store.save(Recipe("p1", (CameraEntry(0, model_version="v0001"),)))
    doc = json.loads((tmp_path / "p1.json").read_text())
    change(doc)
    (tmp_path / "p1.json").write_text(json.dumps(doc))
    with pytest.raises(RecipeError) as caught:
        store.load("p1")
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "p1.json") in message and field in message


def test_garbage_a_wrong_name_and_missing_recipes_are_refused(tmp_path: Path) -> None:
    store = RecipeStore(tmp_path)
    (tmp_path / "junk.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(RecipeError, match="not a valid recipe file"):
        store.load("junk")
    store.save(Recipe("a", (CameraEntry(0, model_version="v0001"),)))
    (tmp_path / "b.json").write_text((tmp_path / "a.json").read_text())
    with pytest.raises(RecipeError, match="names recipe 'a', not 'b'"):
        store.load("b")
    with pytest.raises(RecipeError, match="no such recipe"):
        store.load("c")
    for bad in ("", "../x", ".hidden", "a/b", "x" * 65):
        with pytest.raises(RecipeError, match="a name is 1-64"):
            store.path(bad)
    with pytest.raises(ValueError, match="threshold"):  # what cannot be read back is never written
        store.save(Recipe("bad", (CameraEntry(0, model_version="v0001", threshold=2.0),)))
    assert store.names() == ["a", "b", "junk"] and not (tmp_path / "bad.json").exists()


def test_the_active_pointer_follows_activate_and_delete(tmp_path: Path) -> None:
    store = RecipeStore(tmp_path)
    assert store.active_name() is None
    store.save(Recipe("a", (CameraEntry(0, model_version="v0001"),)))
    store.set_active("a")
    assert store.active_name() == "a"
    (tmp_path / "active.json").write_text("{broken")
    assert store.active_name() is None  # a corrupt pointer reads as none, never as a crash
    store.set_active("a")
    store.delete("a")
    assert store.active_name() is None and store.names() == []


def test_parse_refuses_a_non_object() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        parse([1, 2])


def test_cli_save_list_activate_show_delete(versions: tuple[str, str], tiny_model: Path, tmp_path: Path,
                                            capsys) -> None:  # fmt: skip
    first, second = versions
    settings = tmp_path / "cam.json"
    settings.write_text("{}")
    assert main(["recipe", "save", "A", "--threshold", "0.3", "--roi", "1,2,30,40", "--pulse", "Line1"]) == 0
    assert main(["recipe", "save", "B", "--model", second, "--model", str(tiny_model), "--camera-settings",
                 str(settings), "--note", "two cameras"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["recipe", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in doc["recipes"]}
    assert by_name["A"]["cameras"][0] == {"camera": 0, "model_version": first, "model_file": "", "camera_settings": "",
                                          "roi": [1, 2, 30, 40], "threshold": 0.3}  # fmt: skip
    assert by_name["A"]["reject"]["pulse_enabled"] and by_name["A"]["reject"]["line"] == "Line1"
    b = by_name["B"]["cameras"]
    assert b[0]["model_version"] == second and b[1]["model_file"] == str(tiny_model.resolve())
    assert b[0]["camera_settings"] == b[1]["camera_settings"] == str(settings.resolve())  # one applies to every camera
    assert doc["active"] is None
    assert main(["recipe", "activate", "B"]) == 0
    capsys.readouterr()
    assert main(["recipe", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("* B") for line in lines) and any(line.startswith("  A") for line in lines)
    assert main(["recipe", "show", "A"]) == 0 and json.loads(capsys.readouterr().out)["name"] == "A"
    assert main(["recipe", "delete", "B"]) == 0
    assert RecipeStore().names() == ["A"] and RecipeStore().active_name() is None


@pytest.mark.parametrize(("args", "expected"), [
    (["save", "X", "--model", "v0042"], "no version 'v0042'"),
    (["save", "X", "--model", "/nowhere/m.safetensors"], "model file does not exist"),
    (["save", "X", "--threshold", "1.2"], "--threshold 1.2 is not inside (0, 1)"),
    (["save", "X", "--roi", "1,2,3"], "is not X,Y,W,H"),
    (["save", "X", "--model", "v0001", "--model", "v0002", "--threshold", "0.1", "--threshold", "0.2",
      "--threshold", "0.3"], "give --threshold once or once per --model (2)"),
    (["save", "../evil"], "a name is 1-64"),
    (["activate", "missing"], "no such recipe"),
    (["delete", "missing"], "no such recipe"),
])  # fmt: skip
def test_cli_errors_are_one_line(versions, args: list[str], expected: str, capsys) -> None:
    code = main(["recipe", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0] and "Traceback" not in err[0]


def test_cli_save_without_a_model_needs_an_active_registry_version(capsys) -> None:
    assert main(["recipe", "save", "X"]) == 2
    assert "no active version in the registry" in capsys.readouterr().err
