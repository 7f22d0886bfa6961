"""Shared fixtures: real data from ../shared/data and a small real model trained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: no spinning threads (see app/cli/main.py)

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
BALL_SCREW = SHARED_DATA / "ball_screw_bsdata" / "ball_screw"


@pytest.fixture(scope="session")
def ball_screw() -> Path:
    if not BALL_SCREW.is_dir():
        pytest.skip(f"shared data not found at {BALL_SCREW}")
    return BALL_SCREW


@pytest.fixture(scope="session")
def good_paths(ball_screw: Path) -> list[Path]:
    return sorted((ball_screw / "train" / "good").glob("*.jpg"))[:16]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, good_paths: list[Path]) -> Path:
    """A real, calibrated model file (micro preset, 64x160, a few steps on real ball-screw images)."""
    import torch

    from draem_core.config import TrainConfig, preset
    from draem_core.train import TrainPlan, train

    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    cfg = TrainConfig(steps=4, batch_size=4, checkpoint_every=0, min_holdout=4, seed=0)
    plan = TrainPlan(good_paths[0].parent, out, preset("micro", (64, 160)), cfg, images=tuple(good_paths))
    events = list(train(plan))
    assert events[-1].kind == "done"
    return out


REGION = (300, 40, 480, 380)  # x, y, w, h inside the 1130x460 ball-screw images


@pytest.fixture(scope="session")
def region_model(tmp_path_factory: pytest.TempPathFactory, good_paths: list[Path]) -> Path:
    """A real model trained on the inspection region :data:`REGION` of the ball-screw images (micro, 3 steps)."""
    from draem_core.config import TrainConfig, preset
    from draem_core.train import TrainPlan, train

    out = tmp_path_factory.mktemp("region") / "region.safetensors"
    cfg = TrainConfig(steps=3, batch_size=4, checkpoint_every=0, seed=5)
    plan = TrainPlan(good_paths[0].parent, out, preset("micro", (64, 96)), cfg, images=tuple(good_paths), roi=REGION)
    events = list(train(plan))
    assert events[-1].kind == "done"
    assert "of the region 480x380 at (300, 40)" in events[0].message
    return out
