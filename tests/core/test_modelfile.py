import json

import pytest
import torch
from safetensors.torch import save_file

from draem_core.errors import ModelFileError
from draem_core.inspector import Inspector
from draem_core.modelfile import load_model, read_file, save_model
from draem_core.version import MODEL_FORMAT


def test_save_load_gives_identical_outputs(tiny_model, tmp_path):
    model, meta = load_model(tiny_model)
    copy = save_model(tmp_path / "copy.safetensors", model, meta)
    again, meta2 = load_model(copy)
    x = torch.rand(2, 3, 64, 160)
    with torch.no_grad():
        assert torch.equal(model(x).logits, again(x).logits)
    assert meta2 == meta
    assert meta2.calibration["threshold"] > 0


def test_metadata_describes_the_model(tiny_model):
    _, doc = read_file(tiny_model, MODEL_FORMAT)
    for key in (
        "format_version",
        "model",
        "channel_order",
        "calibration",
        "training",
        "dataset_fingerprint",
        "software_version",
        "created",
    ):
        assert key in doc, key
    assert doc["model"]["preset"] == "micro"
    assert len(doc["dataset_fingerprint"]) == 64


def test_half_weights_halve_the_file(tiny_model, tmp_path):
    model, meta = load_model(tiny_model)
    half = save_model(tmp_path / "half.safetensors", model, meta, half=True)
    assert half.stat().st_size < 0.6 * tiny_model.stat().st_size
    loaded, _ = load_model(half)
    assert next(loaded.parameters()).dtype == torch.float32


def _error(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(path) in str(info.value)
    return info.value.reason


def test_missing_file(tmp_path):
    assert "not found" in _error(tmp_path / "nope.safetensors")


def test_truncated_file(tiny_model, tmp_path):
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(tiny_model.read_bytes()[:-1000])
    assert "truncated" in _error(bad)


def test_garbage_file(tmp_path):
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"\x00" * 4 + b"hello world, not a model" * 10)
    assert "safetensors" in _error(bad)


def test_empty_file(tmp_path):
    bad = tmp_path / "empty.safetensors"
    bad.write_bytes(b"")
    assert "empty" in _error(bad)


def test_foreign_safetensors_file(tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, str(foreign))
    assert "not a draem-inspect file" in _error(foreign)


def test_newer_format_is_refused(tiny_model, tmp_path):
    tensors, doc = read_file(tiny_model, MODEL_FORMAT)
    doc["format_version"] = 99
    newer = tmp_path / "newer.safetensors"
    save_file(tensors, str(newer), metadata={"draem_inspect": json.dumps(doc)})
    assert "newer" in _error(newer)


def test_corrupted_weights_are_refused(tiny_model, tmp_path):
    tensors, doc = read_file(tiny_model, MODEL_FORMAT)
    key = next(k for k in tensors if k.endswith("weight"))
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    bad = tmp_path / "nan.safetensors"
    save_file(tensors, str(bad), metadata={"draem_inspect": json.dumps(doc)})
    assert "NaN" in _error(bad)


def test_loading_never_unpickles(tiny_model, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    Inspector.from_file(tiny_model, device="cpu")
