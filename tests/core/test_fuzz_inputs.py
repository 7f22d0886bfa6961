"""Fuzz suite: about 850 generated bad inputs (model files, images, dataset layouts), each of which must give
one clear line (a DraemError naming the file or folder and the reason) or a correct result. Any other
exception fails its case with the traceback, so the suite passes only with 0 tracebacks.

Generators are in ``bad_inputs.py`` (seeded: every run tries the same inputs). Networks are micro-sized.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import (
    MICRO,
    container_cases,
    field_cases,
    image_cases,
    micro_model,
    model_bytes,
    tensor_cases,
    test_layout,
    training_layout,
)

from app.cli.main import main
from app.registry import ModelRegistry
from draem_core.config import TrainConfig
from draem_core.dataset import good_images
from draem_core.errors import DatasetError, DraemError, ImageReadError, ModelFileError, shown
from draem_core.evaluate import evaluate
from draem_core.imageio import read_image
from draem_core.inspector import Inspector
from draem_core.region import RegionError
from draem_core.train import TrainPlan, train
from draem_core.training_data import fingerprint, load_training_images

FIELD_CASES = dict(field_cases())
OTHER_CASES = dict([*container_cases(), *tensor_cases()])
MODEL_CASES = [*FIELD_CASES, *OTHER_CASES]
IMAGE_CASES = dict(image_cases())
MAX_PIXELS = 1_000_000  # the fuzz images stay small; the limit itself is one of the things tried


@pytest.fixture(scope="module")
def micro_tensors():
    return micro_model()[0]


@pytest.fixture(scope="module")
def inspector(tmp_path_factory) -> Inspector:
    tensors, doc = micro_model()
    path = tmp_path_factory.mktemp("fuzz") / "valid.safetensors"
    path.write_bytes(model_bytes(tensors, {**doc, "roi": None}))
    return Inspector.from_file(path, "cpu")


def _case_file(case: str, folder: Path, tensors) -> Path:
    path = folder / "model.safetensors"
    path.write_bytes(model_bytes(tensors, FIELD_CASES[case]) if case in FIELD_CASES else OTHER_CASES[case])
    return path


def _one_line(exc: DraemError, thing: Path) -> None:
    text = str(exc)
    assert "\n" not in text and "\r" not in text, text
    assert shown(thing) in text, text
    assert len(text) < 600, text


@pytest.mark.parametrize("case", MODEL_CASES)
def test_model_file(case: str, tmp_path: Path, micro_tensors) -> None:
    path = _case_file(case, tmp_path, micro_tensors)
    try:
        inspector = Inspector.from_file(path, "cpu")
    except ModelFileError as exc:
        _one_line(exc, path)
        return
    meta = inspector.meta  # loaded: it must be a model the station can judge with, described as declared
    assert 0.0 < inspector.threshold < 1.0 and meta.channel_order == "RGB"
    assert meta.roi is None or (min(meta.roi) >= 0 and meta.roi[2] >= 1 and meta.roi[3] >= 1)
    assert all(isinstance(v, str) for v in (meta.name, meta.created, meta.software_version, meta.dataset_fingerprint))
    assert isinstance(meta.training, dict) and isinstance(meta.extra, dict)
    assert isinstance(meta.extra.get("version", ""), str)  # the window and the trace show it
    frame = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    try:
        result = inspector.inspect(frame)
    except RegionError as exc:  # a frame without the model's region: one line the pipeline reports
        assert "\n" not in str(exc)
        return
    assert math.isfinite(result.score) and np.isfinite(result.anomaly_map).all() and result.verdict in ("OK", "NG")


@pytest.mark.parametrize("case", MODEL_CASES[::20])
def test_model_file_at_the_command_line(case: str, tmp_path: Path, micro_tensors, capsys) -> None:
    path = _case_file(case, tmp_path, micro_tensors)
    code = main(["model-info", "--model", str(path)])
    err = capsys.readouterr().err
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("draem-inspect model-info: error: model file "), err


@pytest.mark.parametrize("case", MODEL_CASES[7::20])
def test_registry_adds_only_what_inspection_loads(case: str, tmp_path: Path, micro_tensors) -> None:
    path = _case_file(case, tmp_path, micro_tensors)
    registry = ModelRegistry(tmp_path / "models")
    try:
        record = registry.add(path, device="cpu")
    except ModelFileError as exc:
        _one_line(exc, path)
        assert registry.versions() == []
        return
    assert Inspector.from_file(record.model_path, "cpu").threshold > 0


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_image_file(case: str, tmp_path: Path, inspector: Inspector) -> None:
    path = tmp_path / f"{case}.png"
    path.write_bytes(IMAGE_CASES[case])
    try:
        image = read_image(path, max_pixels=MAX_PIXELS)
    except ImageReadError as exc:
        _one_line(exc, path)
        return
    assert image.dtype in (np.uint8, np.uint16) and image.size > 0
    assert image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    assert image.shape[0] * image.shape[1] <= MAX_PIXELS
    result = inspector.inspect(image)
    assert math.isfinite(result.score) and result.anomaly_map.shape == image.shape[:2]


def test_image_oddities_of_the_file_system(tmp_path: Path) -> None:
    odd = Path(str(tmp_path) + "/caf\udce9\udcff.png")  # a name written under another code page
    odd.write_bytes(IMAGE_CASES["rgb.png-valid"])
    assert read_image(odd).shape == (30, 40, 3)
    broken = Path(str(tmp_path) + "/\udcff broken.png")
    broken.write_bytes(b"\x89PNG broken")
    (tmp_path / "folder.png").mkdir()
    for path in (tmp_path / "folder.png", tmp_path / "missing.png", broken):
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        _one_line(info.value, path)


@pytest.mark.parametrize("seed", range(40))
def test_training_layout(seed: int, tmp_path: Path) -> None:
    layout = training_layout(tmp_path / "data", seed)
    try:
        paths, skipped = good_images(layout.root)
    except DatasetError as exc:
        assert layout.readable["good"] == 0 and "\n" not in str(exc)
        return
    data, unreadable = load_training_images(paths, [], (32, 32))
    assert len(data.train) == layout.readable["good"]
    listed = {Path(p) for p, _ in skipped + unreadable}
    assert set(layout.broken_folders) <= listed  # an unreadable sub-folder is listed, never dropped silently
    assert len(fingerprint(data.train_paths)) == 64


@pytest.mark.parametrize("seed", range(40))
def test_test_layout(seed: int, tmp_path: Path, inspector: Inspector) -> None:
    layout = test_layout(tmp_path / "data", seed)
    try:
        _, scored, _ = evaluate(inspector, layout.root)
    except DraemError as exc:
        assert layout.refuse, f"refused a readable test set: {exc}"
        assert "\n" not in str(exc)
        return
    assert not layout.refuse, "a class that cannot be read was left out of the evaluation"
    counts = {kind: sum(s.item.defect_type == kind for s in scored) for kind in layout.readable}
    assert counts == layout.readable


@pytest.mark.parametrize("seed", [1, 3, 8, 13])
def test_training_runs_to_a_model_or_refuses(seed: int, tmp_path: Path) -> None:
    layout = training_layout(tmp_path / "data", seed)
    out = tmp_path / "m.safetensors"
    cfg = TrainConfig(steps=1, batch_size=2, checkpoint_every=0, holdout_fraction=0.0)
    plan = TrainPlan(layout.root, out, MICRO, cfg)
    try:
        events = list(train(plan))
    except DatasetError as exc:
        assert layout.readable["good"] < 2 and "\n" not in str(exc)
        return
    assert events[-1].kind == "done" and Inspector.from_file(out, "cpu").threshold > 0
    listed = {Path(p) for p, _ in events[0].extra["skipped"]}
    assert set(layout.broken_folders) <= listed
