"""Shared fixtures: data the repository has or makes, a small real model trained once per session, and the
check that no test skips unless its reason is one of :data:`ALLOWED_SKIPS`.

Images come from two places, both inside the repository, so the suite runs the same on any clone:

- ``tests/data/ball_screw``: 36 real BSData ball-screw images (halved to 565x230) in MVTec layout, with masks
  (CC BY-SA 4.0, see ``tests/data/SOURCE.md``), where real surface texture matters;
- :func:`demo_data`: parts rendered by the demo line (seeded), with and without defects, where any part
  will do.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: no spinning threads (see app/cli/main.py)

pytest_plugins = ["pytester"]  # tests/test_skip_check.py runs pytest on a small suite of its own

TESTS = Path(__file__).resolve().parent
BALL_SCREW = TESTS / "data" / "ball_screw"  # train/good 20, test/good 12, test/pitting 4 (+ ground_truth)
REGION = (150, 20, 240, 190)  # x, y, w, h inside the 565x230 ball-screw images
DEMO_SIZE = (320, 240)  # width, height of the demo-line images of :func:`demo_data`

# The only reasons a test may skip: a part that some machines lack (the genicam wheel's simulated GenTL
# producer exists for a few platforms only). Any other skip fails the run; CI, which has them all, sets
# DRAEM_TESTS_NO_SKIPS=1 (.ci/run) so that there no test may skip at all.
MACHINE_SKIPS = ("genicam's viky.cti is not installed",)
ALLOWED_SKIPS = () if os.environ.get("DRAEM_TESTS_NO_SKIPS") == "1" else MACHINE_SKIPS


@pytest.fixture(scope="session")
def ball_screw() -> Path:
    """The committed ball-screw subset (MVTec layout)."""
    assert (BALL_SCREW / "train" / "good").is_dir(), f"test images missing at {BALL_SCREW}"
    return BALL_SCREW


@pytest.fixture(scope="session")
def good_paths(ball_screw: Path) -> list[Path]:
    return sorted((ball_screw / "train" / "good").glob("*.jpg"))[:16]


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MVTec-style set from the demo line (seed 22, 320x240): ``train/good`` 24 parts, ``test/good`` 4 and
    one part of each defect kind in ``test/<kind>`` with ``ground_truth/<kind>/<stem>_mask.png``."""
    from app.sources.demo_dataset import DemoDatasetPlan, write_demo_dataset
    from app.sources.demo_line import DemoLineConfig

    root = tmp_path_factory.mktemp("demo") / "demo_line"
    line = DemoLineConfig(width=DEMO_SIZE[0], height=DEMO_SIZE[1], seed=22)
    write_demo_dataset(DemoDatasetPlan(root, good=4, defective=4, train_good=24, line=line))
    return root


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
    assert "of the region 240x190 at (150, 20)" in events[0].message
    return out


UNEXPECTED_SKIPS: list[str] = []  # "test id: reason" of every skip this run whose reason is not allowed


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note a skip whose reason is not in :data:`ALLOWED_SKIPS` (an expected failure is no skip)."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if not reason.startswith(ALLOWED_SKIPS):
        UNEXPECTED_SKIPS.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail an otherwise green run that skipped a test it should have run: the skip may hide a broken part."""
    if UNEXPECTED_SKIPS and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:
    """Name every unexpected skip under its own heading."""
    if UNEXPECTED_SKIPS:
        terminalreporter.section("unexpected skips fail the run (allowed: ALLOWED_SKIPS, tests/conftest.py)")
        for line in UNEXPECTED_SKIPS:
            terminalreporter.line(line, red=True)
