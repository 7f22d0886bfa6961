"""The model registry: versions, the atomic active pointer, rollback, corrupt records, and its CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.cli.main import main
from app.registry import ACTIVE_FILE, RECORD_FILE, ModelRegistry, RegistryError
from draem_core.errors import ModelFileError
from draem_core.inspector import Inspector
from draem_core.modelfile import read_file
from draem_core.version import MODEL_FORMAT


@pytest.fixture
def reg(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "models")


def test_add_stores_a_stamped_copy_with_its_record(reg: ModelRegistry, tiny_model: Path) -> None:
    record = reg.add(tiny_model, metrics={"false_reject": 0.01}, dataset="/data/flange", note="first")
    assert record.id == "v0001" and record.parent is None
    assert [v.id for v in reg.versions()] == ["v0001"]
    assert reg.active() is None  # adding does not activate
    _, doc = read_file(record.model_path, MODEL_FORMAT)
    assert doc["extra"]["version"] == "v0001"  # the live window shows the registry version
    stored = json.loads((record.model_path.parent / RECORD_FILE).read_text())
    _, original = read_file(tiny_model, MODEL_FORMAT)
    assert stored["dataset_fingerprint"] == original["dataset_fingerprint"] != ""
    assert stored["calibration"]["threshold"] == pytest.approx(original["calibration"]["threshold"])
    assert stored["training"]["model"]["preset"] == "micro" and "holdout_scores" not in stored["training"]
    assert stored["metrics"] == {"false_reject": 0.01} and stored["dataset"] == "/data/flange"


def test_activate_and_roll_back(reg: ModelRegistry, tiny_model: Path) -> None:
    first = reg.add(tiny_model)
    reg.activate(first.id)
    second = reg.add(tiny_model, threshold=0.9)
    assert second.parent == first.id
    reg.activate(second.id)
    assert reg.active().id == second.id  # type: ignore[union-attr]
    assert Inspector.from_file(reg.active().model_path, "cpu").threshold == pytest.approx(0.9)  # type: ignore[union-attr]
    reg.activate(first.id)  # rollback
    pointer = json.loads((reg.root / ACTIVE_FILE).read_text())
    assert pointer["active"] == first.id and pointer["previous"] == second.id
    assert [p.name for p in reg.root.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_pointer_stays_when_its_write_fails(reg: ModelRegistry, tiny_model: Path, monkeypatch) -> None:
    first, second = reg.add(tiny_model), reg.add(tiny_model)
    reg.activate(first.id)

    def crash(src, dst):  # the machine dies at the rename: the old pointer must survive, whole
        raise OSError("simulated power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        reg.activate(second.id)
    monkeypatch.undo()
    assert reg.active_id() == first.id
    assert [p.name for p in reg.root.iterdir() if p.name.startswith(".")] == []


def test_half_written_versions_are_invisible(reg: ModelRegistry, tiny_model: Path) -> None:
    reg.add(tiny_model)
    (reg.root / ".staging-crashed").mkdir()  # an add that died before its rename
    (reg.root / ".staging-crashed" / "model.safetensors").write_bytes(b"partial")
    assert [v.id for v in reg.versions()] == ["v0001"] and reg.problems == []
    assert reg.add(tiny_model).id == "v0002"


def test_corrupt_record_is_skipped_and_refused(reg: ModelRegistry, tiny_model: Path) -> None:
    first, second = reg.add(tiny_model), reg.add(tiny_model)
    reg.activate(second.id)
    (first.model_path.parent / RECORD_FILE).write_text("{not json")
    assert [v.id for v in reg.versions()] == ["v0002"]
    assert reg.problems[0][0].name == "v0001" and "corrupt" in reg.problems[0][1]
    with pytest.raises(RegistryError, match="v0001.*record is corrupt"):
        reg.activate(first.id)
    assert reg.active_id() == second.id  # unchanged
    assert reg.add(tiny_model).id == "v0003"  # the broken version's number is not reused


def test_changed_model_file_is_refused(reg: ModelRegistry, tiny_model: Path) -> None:
    record = reg.add(tiny_model)
    data = bytearray(record.model_path.read_bytes())
    data[-1] ^= 0xFF
    record.model_path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="does not match its record"):
        reg.activate(record.id)
    assert reg.active_id() is None


def test_corrupt_pointer_names_the_fix(reg: ModelRegistry, tiny_model: Path) -> None:
    record = reg.add(tiny_model)
    reg.root.joinpath(ACTIVE_FILE).write_text('{"active": 7}')
    with pytest.raises(RegistryError, match="pointer is corrupt.*re-activate"):
        reg.active()
    reg.activate(record.id)
    assert reg.active_id() == record.id


def test_bad_inputs_write_nothing(reg: ModelRegistry, tiny_model: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ModelFileError):
        reg.add(junk)
    with pytest.raises(RegistryError, match="threshold 1.5"):
        reg.add(tiny_model, threshold=1.5)
    with pytest.raises(RegistryError, match="no version 'v0042'"):
        reg.activate("v0042")
    assert reg.versions() == [] and not any(p.name.startswith(".") for p in reg.root.glob("*"))


def test_cli_add_list_activate(tmp_path: Path, tiny_model: Path, capsys) -> None:
    root = str(tmp_path / "models")
    assert main(["registry", "--root", root, "add", str(tiny_model), "--activate", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["id"] == "v0001" and added["active"] is True
    assert main(["registry", "--root", root, "add", str(tiny_model)]) == 0
    assert "added v0002" in capsys.readouterr().out
    assert main(["registry", "--root", root, "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["active"] == "v0001" and [v["id"] for v in listed["versions"]] == ["v0001", "v0002"]
    assert main(["registry", "--root", root, "activate", "v0002"]) == 0
    assert "active version: v0002" in capsys.readouterr().out
    assert main(["registry", "--root", root, "list"]) == 0
    assert "* v0002" in capsys.readouterr().out
    assert main(["registry", "--root", root, "activate", "v0009"]) == 2
    assert "no version 'v0009'" in capsys.readouterr().err


def _nan_output_model(src: Path, dst: Path) -> Path:
    """A model whose tensors are all finite but whose output is NaN (a BatchNorm variance below zero)."""
    from safetensors.torch import save_file

    tensors, doc = read_file(src, MODEL_FORMAT)
    key = next(k for k in tensors if k.endswith("running_var"))
    tensors[key] = -tensors[key]
    save_file(tensors, str(dst), metadata={"draem_inspect": json.dumps(doc)})
    return dst


def test_add_refuses_a_model_the_inspection_cannot_load(reg: ModelRegistry, tiny_model: Path, tmp_path: Path) -> None:
    bad = _nan_output_model(tiny_model, tmp_path / "nan.safetensors")
    with pytest.raises(ModelFileError, match="NaN or infinite output"):
        Inspector.from_file(bad, "cpu")  # what predict and the window do
    with pytest.raises(ModelFileError, match="NaN or infinite output"):
        reg.add(bad, device="cpu")  # before: accepted, and the station could not use it
    assert reg.versions() == []


@pytest.mark.parametrize("edit", [
    lambda doc: doc.pop("model"), lambda doc: doc["model"].update(rec_width="4"),
    lambda doc: doc.update(calibration={"threshold": 0.5}), lambda doc: doc.update(roi="1,2,3,4"),
])  # fmt: skip
def test_cli_add_of_a_malformed_model_is_one_line(tmp_path: Path, tiny_model: Path, capsys, edit) -> None:
    from safetensors.torch import save_file

    tensors, doc = read_file(tiny_model, MODEL_FORMAT)
    edit(doc)
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata={"draem_inspect": json.dumps(doc)})
    assert main(["registry", "--root", str(tmp_path / "models"), "add", str(bad)]) == 2  # before: a traceback
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"draem-inspect registry: error: model file {bad}: metadata")


def test_leftovers_of_dead_writes_are_removed_when_the_registry_opens(reg: ModelRegistry, tiny_model: Path) -> None:
    import time

    record = reg.add(tiny_model, device="cpu")
    old = time.time() - 3600
    stale = [reg.root / ".staging-dead", reg.root / ".active.json.dead0001.tmp",
             record.folder / ".model.safetensors.dead0002.tmp"]  # fmt: skip
    fresh = [reg.root / ".staging-busy", reg.root / ".active.json.busy0001.tmp"]  # another process, right now
    for p in stale + fresh:
        if p.name.startswith(".staging-"):
            p.mkdir()
            (p / "model.safetensors").write_bytes(b"partial")
        else:
            p.write_bytes(b"partial")
    for p in stale:
        os.utime(p, (old, old))
    reopened = ModelRegistry(reg.root)
    assert sorted(reopened.removed) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in fresh)
    assert [v.id for v in reopened.versions()] == [record.id] and record.model_path.is_file()
