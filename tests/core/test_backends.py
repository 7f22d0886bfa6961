"""Inference backends: the torch path, the CPU runtimes against torch, validation refusals, auto and its cache.

Tests of an optional runtime skip, with the reason, where its package is not installed (CI installs both).
Hiding a runtime (to test the not-installed path where it is installed) renames the module the backend looks
for: the import then fails for real.
"""

import importlib.util
import json

import numpy as np
import pytest
import torch

from draem_core.backends import BackendError, BackendOptions, BackendRequest, BackendSpec
from draem_core.backends import runtimes as runtimes_module
from draem_core.backends.store import BackendStore
from draem_core.backends.torch_backend import TorchBackend
from draem_core.imageio import read_image
from draem_core.inspector import Inspector
from draem_core.modelfile import load_model

HAVE = {name: importlib.util.find_spec(name) is not None for name in ("onnxruntime", "openvino", "onnx")}


def needs(*names):
    missing = [n for n in names if not HAVE[n]]
    return pytest.mark.skipif(bool(missing), reason=f"optional backend package not installed: {', '.join(missing)} "
                                                    '(pip install -e ".[onnxruntime,openvino]")')  # fmt: skip


@pytest.fixture(scope="module")
def frames(good_paths):
    return [read_image(p) for p in good_paths[:3]]


@pytest.fixture
def hide(monkeypatch):
    def _hide(name):
        monkeypatch.setitem(runtimes_module.PACKAGES, name, f"{name}_not_installed_here")

    return _hide


def test_requests_parse_and_bad_ones_name_the_problem():
    assert BackendRequest.parse("openvino:int8") == BackendRequest("openvino", "int8")
    assert BackendRequest.parse("onnxruntime", "bf16").spec() == BackendSpec("onnxruntime", "bf16")
    assert BackendRequest.parse("auto").precision is None and BackendRequest.parse("torch").spec().precision == "fp32"
    assert str(BackendSpec("openvino", "int8")) == "openvino:int8" and str(BackendSpec("onnxruntime")) == "onnxruntime"
    with pytest.raises(BackendError, match="tensorrt: unknown backend; choose one of torch, onnxruntime"):
        BackendRequest.parse("tensorrt")
    with pytest.raises(BackendError, match="unknown precision 'fp8'"):
        BackendRequest.parse("openvino:fp8")
    with pytest.raises(BackendError, match="torch runs fp32"):
        BackendRequest.parse("torch", "int8")


def test_torch_backend_channels_last_gives_the_maps_of_the_plain_layout(tiny_model):
    x = torch.rand(2, 3, 64, 160, generator=torch.Generator().manual_seed(0))
    plain = TorchBackend(load_model(tiny_model)[0], torch.device("cpu"), channels_last=False).anomaly_maps(x)
    nhwc = TorchBackend(load_model(tiny_model)[0], torch.device("cpu"), channels_last=True).anomaly_maps(x)
    assert nhwc.shape == (2, 64, 160) and nhwc.is_contiguous()
    assert torch.allclose(plain, nhwc, atol=1e-5)


def test_torch_is_the_default_and_needs_no_cache(tiny_model, frames):
    inspector = Inspector.from_file(tiny_model, "cpu")
    assert inspector.backend.spec == BackendSpec("torch") and inspector.inspect(frames[0]).anomaly_map.shape == frames[0].shape[:2]


def test_a_missing_runtime_is_refused_with_the_pip_command(tiny_model, hide, tmp_path):
    hide("onnxruntime")
    with pytest.raises(BackendError, match=r'backend onnxruntime: the onnxruntime package is not installed \(pip install "draem-inspect\[onnxruntime\]"\)'):
        Inspector.from_file(tiny_model, "cpu", backend="onnxruntime", options=BackendOptions(cache_dir=tmp_path))


def test_auto_without_any_runtime_is_torch(tiny_model, hide, tmp_path):
    hide("onnxruntime")
    hide("openvino")
    inspector = Inspector.from_file(tiny_model, "cpu", backend="auto", options=BackendOptions(cache_dir=tmp_path))
    assert inspector.backend.spec.name == "torch"
    assert inspector.backend.info["auto"]["ms_min"].keys() == {"torch"}


@pytest.mark.parametrize("name", [pytest.param("onnxruntime", marks=needs("onnxruntime", "onnx")),
                                  pytest.param("openvino", marks=needs("openvino", "onnx"))])  # fmt: skip
def test_runtime_matches_torch_and_keeps_its_graph_in_the_cache(name, tiny_model, frames, tmp_path):
    reference = Inspector.from_file(tiny_model, "cpu")
    options = BackendOptions(cache_dir=tmp_path)
    inspector = Inspector.from_file(tiny_model, "cpu", backend=name, options=options)
    assert inspector.backend.spec == BackendSpec(name) and inspector.device.type == "cpu"
    for got, want in zip(inspector.inspect_batch(frames), reference.inspect_batch(frames), strict=True):
        assert got.score == pytest.approx(want.score, abs=1e-4)
        assert np.abs(got.anomaly_map - want.anomaly_map).max() < 1e-3
        assert got.verdict == want.verdict
    validation = inspector.backend.info["validation"]
    assert validation["accepted"] and validation["score_diff"] < 1e-3
    graphs = list(tmp_path.glob("*/map.onnx"))
    assert len(graphs) == 1
    stamp = graphs[0].stat().st_mtime_ns
    records = json.loads((tmp_path / "records.json").read_text())
    assert len(records["validations"]) == 1
    again = Inspector.from_file(tiny_model, "cpu", backend=name, options=options)  # validated once: from the cache
    assert graphs[0].stat().st_mtime_ns == stamp and json.loads((tmp_path / "records.json").read_text()) == records
    assert again.inspect(frames[0]).score == pytest.approx(reference.inspect(frames[0]).score, abs=1e-4)


@pytest.fixture(scope="module")
def other_weights(tmp_path_factory, tiny_model):
    """The tiny model with its detector's last layer changed: same shapes, other outputs."""
    from draem_core.modelfile import save_model

    model, meta = load_model(tiny_model)
    with torch.no_grad():
        model.discriminative.head.bias += torch.tensor([-1.0, 1.0])
    return save_model(tmp_path_factory.mktemp("other") / "other.safetensors", model, meta)


@needs("onnxruntime", "onnx")
def test_a_graph_that_does_not_match_the_model_is_refused(tiny_model, other_weights, tmp_path):
    """A cached graph of another network (as a stale or damaged cache would hold) fails validation."""
    options = BackendOptions(cache_dir=tmp_path)
    Inspector.from_file(other_weights, "cpu", backend="onnxruntime", options=options)
    (other_graph,) = tmp_path.glob("*/map.onnx")
    Inspector.from_file(tiny_model, "cpu", backend="onnxruntime", options=options)
    (tiny_graph,) = set(tmp_path.glob("*/map.onnx")) - {other_graph}
    tiny_graph.write_bytes(other_graph.read_bytes())
    (tmp_path / "records.json").unlink()
    with pytest.raises(BackendError, match="backend onnxruntime: outputs differ from torch: score differs by"):
        Inspector.from_file(tiny_model, "cpu", backend="onnxruntime", options=options)
    with pytest.raises(BackendError, match="outputs differ from torch"):  # the refusal is recorded too
        Inspector.from_file(tiny_model, "cpu", backend="onnxruntime", options=options)
    auto = Inspector.from_file(tiny_model, "cpu", backend="auto", options=options)
    assert "onnxruntime" in auto.backend.info["auto"]["refused"] and auto.backend.spec.name != "onnxruntime"


@needs("onnxruntime", "onnx")
def test_a_graph_of_another_input_size_is_refused_not_raised(tiny_model, region_model, tmp_path):
    options = BackendOptions(cache_dir=tmp_path)
    Inspector.from_file(region_model, "cpu", backend="onnxruntime", options=options)  # 64x96, tiny is 64x160
    (region_graph,) = tmp_path.glob("*/map.onnx")
    Inspector.from_file(tiny_model, "cpu", backend="onnxruntime", options=options)
    (tiny_graph,) = set(tmp_path.glob("*/map.onnx")) - {region_graph}
    tiny_graph.write_bytes(region_graph.read_bytes())
    (tmp_path / "records.json").unlink()
    with pytest.raises(BackendError, match=r"backend onnxruntime: failed to derive or run its graph \(InvalidArgument") as err:
        Inspector.from_file(tiny_model, "cpu", backend="onnxruntime", options=options)
    assert "\n" not in str(err.value)  # the runtime's message, on one line


@needs("onnxruntime", "onnx")
def test_auto_chooses_once_and_caches_the_choice(tiny_model, frames, tmp_path):
    options = BackendOptions(cache_dir=tmp_path, timing_runs=2)
    first = Inspector.from_file(tiny_model, "cpu", backend="auto", options=options)
    choice = first.backend.info["auto"]
    assert {"torch", "onnxruntime"} <= choice["ms_min"].keys()
    # the fastest (times are stored rounded to 0.01 ms: two may tie there, so compare the time, not the name)
    assert choice["ms_min"][str(first.backend.spec)] == min(choice["ms_min"].values())
    again = Inspector.from_file(tiny_model, "cpu", backend="auto", options=options)
    assert again.backend.info["auto"] == choice  # read back, not measured again (same timestamp and times)
    assert again.backend.spec == first.backend.spec
    records = json.loads((tmp_path / "records.json").read_text())
    assert len(records["choices"]) == 1


@needs("onnxruntime", "onnx")
def test_int8_needs_good_frames_and_is_judged_on_them(tiny_model, good_paths, tmp_path):
    with pytest.raises(BackendError, match="int8 needs at least 8 good frames of the product"):
        Inspector.from_file(tiny_model, "cpu", "onnxruntime:int8", BackendOptions(cache_dir=tmp_path))
    good = tuple(read_image(p) for p in good_paths[:16])
    options = BackendOptions(cache_dir=tmp_path, good_frames=good)
    try:
        inspector = Inspector.from_file(tiny_model, "cpu", "onnxruntime:int8", options)
        validation = inspector.backend.info["validation"]
    except BackendError as exc:  # refused: the record says why, with the same measurements
        assert "outputs differ from torch" in exc.reason
        validation = next(iter(json.loads((tmp_path / "records.json").read_text())["validations"].values()))
    assert validation["auroc_drop"] is not None and validation["images"] == 16  # 8 validate, 8 with defects
    import onnx

    graph = onnx.load(str(next(tmp_path.glob("*/map-int8-*.onnx"))))
    ops = [n.op_type for n in graph.graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops


def test_unreadable_records_count_as_empty_and_are_rewritten(tmp_path):
    (tmp_path / "records.json").write_text("{not json")
    store = BackendStore(tmp_path)
    assert store.get("choices", "k") is None
    store.put("choices", "k", {"backend": "torch"})
    assert json.loads((tmp_path / "records.json").read_text())["choices"] == {"k": {"backend": "torch"}}


@needs("onnxruntime", "onnx")
def test_export_onnx_keeps_the_score_filter_in_the_graph(tiny_model, tmp_path):
    """The CPU mean filter (OpenCV) must not be traced into the exported graph as constants."""
    import onnxruntime as ort

    from draem_core.onnx_export import export_onnx

    path = export_onnx(tiny_model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inspector = Inspector.from_file(tiny_model, "cpu")
    for seed in (0, 1):
        x = torch.rand(1, 3, 64, 160, generator=torch.Generator().manual_seed(seed))
        maps, score = session.run(None, {"image": x.numpy()})
        want_maps, want_score = inspector.predict_tensor(x)
        assert np.abs(maps - want_maps.numpy()).max() < 1e-4 and score[0] == pytest.approx(float(want_score[0]), abs=1e-4)
