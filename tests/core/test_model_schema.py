"""Model files are checked field by field against the schema, then tensor by tensor, then by one probe
inference, before a model is used; every failure is one ModelFileError naming the file and the field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from bad_inputs import MICRO, deep, edit_header, micro_model, model_bytes, tiff_header_only

from draem_core.checkpoint import checkpoint_path, load_checkpoint, restore_optimizer
from draem_core.config import TrainConfig, preset
from draem_core.errors import ModelFileError
from draem_core.inspector import Inspector
from draem_core.model import DraemModel
from draem_core.modelfile import expected_tensors, load_model, read_file
from draem_core.train import TrainPlan, train
from draem_core.version import CHECKPOINT_FORMAT


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(ModelFileError) as info:
        Inspector.from_file(path, "cpu")
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    return info.value.reason


def _with(tmp_path: Path, section: str | None, key: str, value: object) -> Path:
    tensors, doc = micro_model()
    (doc[section] if section else doc)[key] = value
    return _write(tmp_path, model_bytes(tensors, doc))


@pytest.mark.parametrize("key, value", [("rec_width", "4"), ("rec_width", -4), ("rec_width", 4096),
                                        ("disc_width", 1.5), ("image_height", 0), ("image_height", 200_000),
                                        ("image_width", None), ("stride", 2)])  # fmt: skip
def test_the_network_config_is_checked_before_the_network_is_built(tmp_path, monkeypatch, key, value) -> None:
    def no_building(*args, **kwargs):
        raise AssertionError("the network was built from an unchecked config")

    monkeypatch.setattr("draem_core.modelfile.DraemModel", no_building)
    reason = _refusal(_with(tmp_path, "model", key, value))
    assert f"model.{key}" in reason or "unknown field" in reason


@pytest.mark.parametrize("value", [math.nan, "0.3", 1.5, 0.0, None])
def test_a_calibration_threshold_outside_0_1_is_refused(tmp_path, value) -> None:
    assert "calibration.threshold" in _refusal(_with(tmp_path, "calibration", "threshold", value))


def test_calibration_missing_fields_or_not_an_object(tmp_path) -> None:
    tensors, doc = micro_model()
    del doc["calibration"]["good_max"]
    assert "lacks good_max" in _refusal(_write(tmp_path, model_bytes(tensors, doc)))
    assert "calibration" in _refusal(_with(tmp_path, None, "calibration", "high"))


@pytest.mark.parametrize("roi", ["0,0,10,10", [0, 0, 0, 0], [-5, 0, 10, 10], [0, 0, 10], [0, 0, 10.5, 10]])
def test_a_region_that_is_not_a_region_is_refused(tmp_path, roi) -> None:
    assert "roi" in _refusal(_with(tmp_path, None, "roi", roi))


def test_extra_must_be_an_object_and_its_version_text(tmp_path) -> None:
    assert "extra" in _refusal(_with(tmp_path, None, "extra", "x"))
    assert "extra.version" in _refusal(_with(tmp_path, "extra", "version", 3))


def test_only_the_rgb_channel_order_is_accepted(tmp_path) -> None:
    assert "only RGB" in _refusal(_with(tmp_path, None, "channel_order", "BGR"))
    tensors, doc = micro_model()
    assert Inspector.from_file(_write(tmp_path, model_bytes(tensors, doc)), "cpu").meta.channel_order == "RGB"


def test_a_format_version_as_text_is_corrupt_not_newer(tmp_path) -> None:
    reason = _refusal(_with(tmp_path, None, "format_version", "2"))
    assert "newer" not in reason and "whole number" in reason


@pytest.mark.parametrize("edit", [
    lambda h: {**h, next(k for k in h if k != "__metadata__"): "x"},
    lambda h: {**h, next(k for k in h if k != "__metadata__"): {**h[next(k for k in h if k != "__metadata__")],
                                                                "data_offsets": [9, 2]}},
    lambda h: {**h, next(k for k in h if k != "__metadata__"): {"dtype": "F32", "shape": [1], "data_offsets": "x"}},
    lambda h: {**h, "__metadata__": ["draem_inspect"]},
    lambda h: {**h, "__metadata__": "draem_inspect"},
])  # fmt: skip
def test_a_broken_safetensors_header_is_one_line(tmp_path, edit) -> None:
    tensors, doc = micro_model()
    assert "header" in _refusal(_write(tmp_path, edit_header(model_bytes(tensors, doc), edit)))


@pytest.mark.parametrize("raw", ["[1, 2, 3]", "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_metadata_that_is_no_object_or_nested_too_deeply(tmp_path, raw) -> None:
    tensors, _ = micro_model()
    assert "metadata" in _refusal(_write(tmp_path, model_bytes(tensors, None, raw_meta=raw)))


def test_deep_nesting_inside_a_free_field_is_refused(tmp_path) -> None:
    assert "nested deeper" in _refusal(_with(tmp_path, "training", "notes", deep(200)))


def test_weights_giving_non_finite_output_are_refused_by_the_probe(tmp_path) -> None:
    tensors, doc = micro_model()
    var = next(k for k in tensors if k.endswith("running_var"))
    tensors[var].fill_(-1.0)  # finite, but sqrt(-1) inside BatchNorm: every output pixel is NaN
    assert "NaN or infinite output" in _refusal(_write(tmp_path, model_bytes(tensors, doc)))


def test_integer_weights_are_refused(tmp_path) -> None:
    tensors, doc = micro_model()
    conv = next(k for k in tensors if k.endswith("0.weight"))
    tensors[conv] = tensors[conv].to(torch.int32)
    assert "torch.int32" in _refusal(_write(tmp_path, model_bytes(tensors, doc)))


@pytest.mark.parametrize("name", ["micro", "tiny", "paper"])
def test_expected_tensors_are_those_of_the_network(name) -> None:
    cfg = preset(name, 64)
    state = DraemModel(cfg).state_dict()
    assert expected_tensors(cfg) == {k: (tuple(v.shape), v.is_floating_point()) for k, v in state.items()}


def test_the_valid_micro_model_loads(tmp_path) -> None:
    tensors, doc = micro_model()
    model, meta = load_model(_write(tmp_path, model_bytes(tensors, doc)))
    assert meta.model == MICRO and not model.training


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import cv2
    import numpy as np

    folder = tmp_path_factory.mktemp("ckpt")
    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), (rng.random((40, 40, 3)) * 255).astype(np.uint8))
    out = folder / "m.safetensors"
    cfg = TrainConfig(steps=1, batch_size=2, checkpoint_every=1, holdout_fraction=0.0)
    assert list(train(TrainPlan(folder, out, MICRO, cfg)))[-1].kind == "done"
    return checkpoint_path(out)


def _rewrite_checkpoint(src: Path, dst: Path, edit) -> Path:
    tensors, doc = read_file(src, CHECKPOINT_FORMAT)
    edit(tensors, doc)
    dst.write_bytes(model_bytes(tensors, doc))
    return dst


@pytest.mark.parametrize("key, value", [("step", "12"), ("elapsed_s", math.inf), ("train_images", "a.png"),
                                        ("settings", {"align_scale": "big"})])  # fmt: skip
def test_checkpoint_metadata_is_checked(checkpoint, tmp_path, key, value) -> None:
    bad = _rewrite_checkpoint(checkpoint, tmp_path / "c.safetensors", lambda t, d: d.__setitem__(key, value))
    with pytest.raises(ModelFileError) as info:
        load_checkpoint(bad, torch.device("cpu"))
    assert key in info.value.reason


def test_checkpoint_optimizer_state_must_fit_its_parameters(checkpoint, tmp_path) -> None:
    def edit(tensors, doc):
        key = next(k for k in tensors if k.startswith("opt.") and k.endswith("exp_avg"))
        tensors[key] = torch.zeros(3)

    bad = _rewrite_checkpoint(checkpoint, tmp_path / "c.safetensors", edit)
    model, tensors, _, doc = load_checkpoint(bad, torch.device("cpu"))
    with pytest.raises(ModelFileError, match="does not fit its parameter"):
        restore_optimizer(bad, torch.optim.Adam(model.parameters()), tensors, doc)



def _alignment(png: bytes) -> dict:
    import base64

    import numpy as np

    from draem_core.alignment import Aligner

    frame = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    return {**Aligner.from_frame(frame, (2, 2, 28, 28)).to_dict(), "reference_png": base64.b64encode(png).decode()}


def test_a_huge_alignment_reference_is_refused_before_it_is_decoded(tmp_path, monkeypatch) -> None:
    import cv2

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before the size was checked")

    path = _with(tmp_path, None, "alignment", _alignment(tiff_header_only(30_000, 30_000)))
    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    assert "a 30000x30000 reference for 64x64 frames" in _refusal(path)


@pytest.mark.parametrize("png", [b"\x89PNG\r\n\x1a\n garbage", b""])
def test_an_unreadable_alignment_reference_is_refused(tmp_path, png) -> None:
    assert "alignment reference is unreadable" in _refusal(_with(tmp_path, None, "alignment", _alignment(png)))
