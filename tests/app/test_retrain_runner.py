"""Training in a separate process: cancel and resume continue the step count; a kill loses at most one
checkpoint interval; the ETA comes from a real timing run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from app.retrain.plan import RetrainPlan
from app.retrain.runner import TrainingRunner, checkpoint_step, new_run_path, unfinished_run
from app.retrain.timing import measure_eta
from draem_core.checkpoint import checkpoint_path

pytestmark = pytest.mark.slow  # each test starts one to three training processes (a few seconds each)
EVERY = 3  # checkpoint interval of these runs
TIMEOUT = 120.0  # generous: the CI machine is small and shared


@pytest.fixture
def plan(tmp_path: Path, demo_data: Path) -> RetrainPlan:
    images = sorted((demo_data / "train" / "good").glob("*.png"))[:24]  # any trainable part will do
    return RetrainPlan(dataset=tmp_path, images=images, preset="micro", size=(64, 160), budget=12,
                       batch_size=2, device="cpu", checkpoint_every=EVERY)  # fmt: skip


def _until(runner: TrainingRunner, condition, timeout: float = TIMEOUT) -> list:
    events, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        events += runner.poll()
        if condition(events) or not runner.running:
            return events
        time.sleep(0.02)
    raise AssertionError(f"timed out; events so far: {[(e.kind, e.step) for e in events]}")


def _steps(events) -> list[int]:
    return [e.step for e in events if e.kind == "step"]


def test_cancel_then_resume_continues_the_step_count(plan: RetrainPlan) -> None:
    out = new_run_path(plan.dataset)
    runner = TrainingRunner(threads=1)
    runner.start(plan.to_train_plan(out))
    first = _until(runner, lambda ev: any(e.kind == "step" and e.step >= 4 for e in ev))
    runner.cancel()
    first += runner.wait(TIMEOUT)
    cancelled = first[-1]
    assert cancelled.kind == "cancelled" and not out.exists()
    assert checkpoint_step(checkpoint_path(out)) == cancelled.step == _steps(first)[-1]
    assert unfinished_run(plan.dataset) == (out, cancelled.step)  # a reopened wizard offers to resume it
    runner.resume()
    second = runner.wait(TIMEOUT)
    assert second[-1].kind == "done", second[-1].message
    assert _steps(second) == list(range(cancelled.step + 1, 13))  # continues, no step repeated or skipped
    assert out.is_file() and unfinished_run(plan.dataset) is None


def test_killed_process_loses_at_most_one_checkpoint_interval(plan: RetrainPlan) -> None:
    plan.budget = 10_000
    out = new_run_path(plan.dataset)
    runner = TrainingRunner(threads=1)
    runner.start(plan.to_train_plan(out))
    _until(runner, lambda ev: any(e.kind == "step" and e.step >= 2 * EVERY + 1 for e in ev))
    os.kill(runner.pid, signal.SIGKILL)  # what a crash or a power cut does
    events = _until(runner, lambda ev: any(e.kind == "failed" for e in ev), timeout=30)
    assert events[-1].kind == "failed" and "ended unexpectedly" in events[-1].message
    saved = checkpoint_step(checkpoint_path(out))
    assert saved is not None and saved % EVERY == 0
    assert 0 <= runner.last_step - saved <= EVERY  # at most one checkpoint interval of work lost
    plan.budget = saved + 2
    runner.start(plan.to_train_plan(out, resume=checkpoint_path(out)))
    resumed = runner.wait(TIMEOUT)
    assert _steps(resumed) == [saved + 1, saved + 2] and resumed[-1].kind == "done"


def test_timing_run_measures_the_plan(plan: RetrainPlan, tmp_path: Path) -> None:
    eta = measure_eta(plan, tmp_path / "timing", threads=1, timeout=TIMEOUT)
    assert eta.step_s > 0 and eta.setup_s > eta.step_s
    assert eta.device.startswith("CPU")
    plan.budget = 2000
    assert eta.steps(plan) == 2000
    assert eta.total_s(plan) == pytest.approx(eta.setup_s + 2000 * eta.step_s)
    plan.budget_kind, plan.budget = "minutes", 10
    assert eta.steps(plan) == int(600 / eta.step_s)
    assert "steps take about" in eta.describe(plan)
    assert not list((tmp_path / "timing").glob("timing.safetensors"))  # a timing run never writes a model
