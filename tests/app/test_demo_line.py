"""The demo production line: exact defect masks, defect rate, determinism, the source and `demo-data`."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from app.cli.main import main
from app.sources.base import FrameSource, SourceState
from app.sources.demo_defects import DEFECT_KINDS
from app.sources.demo_line import DemoLine, DemoLineConfig
from app.sources.demo_render import PartRenderer
from app.sources.demo_textures import load_textures
from draem_core.errors import DatasetError
from draem_core.imageio import list_images, read_image

W, H = 320, 240  # small frames keep the tests fast; the geometry scales with the image


@pytest.fixture(scope="module")
def renderer() -> PartRenderer:
    return PartRenderer(W, H, textures=load_textures())


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_mask_is_exactly_the_pixels_the_defect_changed(renderer: PartRenderer, kind: str) -> None:
    for seed in range(4):
        rng = np.random.default_rng(seed)
        scene = renderer.sample_scene(rng)
        clean, clean_mask = renderer.render(scene)
        image, mask = renderer.render(scene, kind, rng)
        changed = np.any(image != clean, axis=2)
        assert not clean_mask.any()
        assert set(np.unique(mask)) == {0, 255}
        np.testing.assert_array_equal(mask > 0, changed)  # outside: equal to the clean part; inside: differs
        area = changed.mean()
        assert 0.0005 <= area <= 0.03, f"{kind}: defect covers {area:.2%} of the image"
        contrast = np.abs(image.astype(int) - clean.astype(int)).max(axis=2)[changed].mean()
        assert contrast >= 8, f"{kind}: mean change {contrast:.1f} grey levels is hard to see"


def test_render_part_draws_scene_then_defect_from_one_generator(renderer: PartRenderer) -> None:
    image, mask = renderer.render_part(np.random.default_rng(5), "dent")
    rng = np.random.default_rng(5)
    again = renderer.render(renderer.sample_scene(rng), "dent", rng)
    np.testing.assert_array_equal(image, again.image)
    np.testing.assert_array_equal(mask, again.mask)


def test_good_parts_look_alike_but_are_not_identical(renderer: PartRenderer) -> None:
    images = [renderer.render_part(np.random.default_rng(s)).image.astype(np.float32) for s in range(6)]
    means = [im.mean() for im in images]
    assert np.std(means) < 0.1 * np.mean(means)  # same product, same exposure range
    assert np.abs(images[0] - images[1]).mean() > 2  # but pose, light and noise vary
    bright = [(im.mean(axis=2) > 100).mean() for im in images]  # the metal part, not the dark belt
    assert min(bright) > 0.2 and max(bright) - min(bright) < 0.1


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_defect_rate_follows_the_setting(rate: float) -> None:
    line = DemoLine(DemoLineConfig(width=W, height=H, defect_rate=rate, seed=1))
    n = 3000
    kinds = [line.plan(i) for i in range(n)]
    observed = sum(k is not None for k in kinds) / n
    assert abs(observed - rate) <= 4 * math.sqrt(rate * (1 - rate) / n) + 1e-12
    if rate > 0:
        assert {k for k in kinds if k} == set(DEFECT_KINDS)


def test_labels_and_masks_agree_with_the_plan() -> None:
    line = DemoLine(DemoLineConfig(width=W, height=H, defect_rate=0.5, seed=2))
    for i in range(8):
        (image, mask), label = line.render(i)
        assert image.shape == (H, W, 3) and image.dtype == np.uint8 and mask.shape == (H, W)
        assert label == (line.plan(i) or "good")
        assert mask.any() == (label != "good")


def test_same_seed_gives_same_frames_and_another_seed_does_not() -> None:
    first, second = (
        DemoLine(DemoLineConfig(width=W, height=H, seed=7)),
        DemoLine(DemoLineConfig(width=W, height=H, seed=7)),
    )
    other = DemoLine(DemoLineConfig(width=W, height=H, seed=8))
    for i in range(3):
        (a, ma), la = first.render(i)
        (b, mb), lb = second.render(i)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ma, mb)
        assert la == lb
        assert not np.array_equal(a, other.render(i)[0].image)


def test_kinds_setting_limits_the_defects() -> None:
    line = DemoLine(DemoLineConfig(width=W, height=H, defect_rate=1.0, kinds=("dent", "crack")))
    assert {line.plan(i) for i in range(200)} == {"dent", "crack"}


@pytest.mark.parametrize(
    "bad",
    [{"width": 10}, {"fps": 0}, {"defect_rate": 1.5}, {"kinds": ("rust",)}, {"kinds": ()}, {"seed": -1}],
)
def test_config_rejects_bad_values_naming_them(bad: dict) -> None:
    with pytest.raises(ValueError, match="demo line config"):
        DemoLineConfig(**bad)


def test_missing_texture_folder_is_reported_with_its_path(tmp_path) -> None:
    line = DemoLine(DemoLineConfig(width=W, height=H, texture_dir=tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="nowhere.*texture folder not found"):
        line.open()
    assert line.stats().state is SourceState.ERROR


def test_source_lifecycle_and_latest_frame_semantics() -> None:
    line = DemoLine(DemoLineConfig(width=160, height=120, fps=50.0, defect_rate=0.5))
    assert isinstance(line, FrameSource)
    assert line.stats().state is SourceState.CLOSED and line.latest() is None
    line.open()
    assert line.stats().state is SourceState.OPEN
    line.start()
    try:
        assert line.stats().state is SourceState.LIVE
        frames = [line.wait_latest(timeout=5.0) for _ in range(4)]
        assert all(f is not None for f in frames)
        ids = [f.frame_id for f in frames]
        assert ids == sorted(set(ids))  # strictly increasing: never the same frame twice
        for f in frames:
            assert f.source_id == "demo-line" and f.mask is not None and f.mask.shape == (120, 160)
            assert f.mask.any() == (f.label != "good")
    finally:
        line.stop()
    assert line.stats().state is SourceState.OPEN
    line.close()
    assert line.stats().state is SourceState.CLOSED


def test_unread_frames_are_counted_as_dropped() -> None:
    line = DemoLine(DemoLineConfig(width=160, height=120, fps=100.0))
    line.start()
    deadline = time.monotonic() + 10.0
    while line.stats().received < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    line.stop()
    stats = line.stats()
    assert stats.received >= 5
    assert stats.dropped == stats.received - 1  # nobody read: every frame but the newest was overwritten
    assert stats.extra["good"] + stats.extra["defective"] == stats.received
    newest = line.latest()
    assert newest is not None and newest.frame_id == stats.received - 1
    assert line.latest() is None and line.wait_latest(timeout=0.01) is None
    line.close()


def test_demo_data_writes_mvtec_layout(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    argv = ["demo-data", "--out", str(out), "--good", "3", "--defective", "7", "--train-good", "4"]
    argv += ["--width", "160", "--height", "120", "--seed", "1"]
    assert main(argv) == 0
    assert "wrote 14 images and 7 masks" in capsys.readouterr().out
    assert len(list_images(out / "train" / "good")) == 4
    assert len(list_images(out / "test" / "good")) == 3
    per_kind = {k: list_images(out / "test" / k) for k in DEFECT_KINDS}
    assert sorted(len(v) for v in per_kind.values()) == [1, 1, 1, 1, 1, 2]  # spread over the kinds
    for kind, images in per_kind.items():
        for path in images:
            mask = read_image(out / "ground_truth" / kind / f"{path.stem}_mask.png")
            assert read_image(path).shape == (120, 160, 3) and mask.shape == (120, 160)
            assert set(np.unique(mask)) == {0, 255}
    assert json.loads((out / "demo_data.json").read_text())["counts"]["train/good"] == 4


def test_demo_data_refuses_a_non_empty_folder_unless_forced(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    (out / "test" / "good").mkdir(parents=True)
    stale = out / "test" / "good" / "999.png"
    stale.write_bytes(b"old")
    argv = [
        "demo-data",
        "--out",
        str(out),
        "--good",
        "1",
        "--defective",
        "0",
        "--width",
        "96",
        "--height",
        "96",
    ]
    assert main(argv) == 2
    assert "not empty" in capsys.readouterr().err and stale.exists()
    assert main([*argv, "--force"]) == 0
    assert not stale.exists()  # an earlier dataset's images are replaced, not mixed in
    assert [p.name for p in list_images(out / "test")] == ["000.png"]
