"""The ETA of a training plan, measured from a few real training steps on the chosen device.

A timing run is an ordinary training run of the plan (same images, preset, size, batch, device) in its own
process, cancelled by itself after a few steps. Its start-up time (process, image loading, textures) and the
median time of the steps after the first (warm-up) give the estimate.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

from app.retrain.plan import RetrainPlan
from app.retrain.runner import TrainingRunner
from draem_core.errors import DraemError
from draem_core.train import TrainEvent

TIMING_STEPS = 4  # steps the timing run makes; the first one is warm-up and not counted


@dataclass(frozen=True)
class Eta:
    """Measured speed of a plan on its device."""

    setup_s: float  # seconds from start to the first step (process, images, textures, first step)
    step_s: float  # median seconds per optimiser step after warm-up
    device: str  # the device's description, e.g. "CPU (2 threads)"

    def steps(self, plan: RetrainPlan) -> int:
        """Steps the plan's budget gives: the budget itself, or what fits in its minutes."""
        if plan.budget_kind == "steps":
            return int(plan.budget)
        return int(plan.budget * 60.0 / max(self.step_s, 1e-6))

    def total_s(self, plan: RetrainPlan) -> float:
        """Seconds the whole run should take."""
        if plan.budget_kind == "minutes":
            return self.setup_s + plan.budget * 60.0
        return self.setup_s + self.steps(plan) * self.step_s

    def describe(self, plan: RetrainPlan) -> str:
        """One line for the Configure page."""
        return (f"{self.step_s:.2f} s per step on {self.device}: {self.steps(plan)} steps take about "
                f"{clock(self.total_s(plan))} (including {self.setup_s:.0f} s to start)")  # fmt: skip


def clock(seconds: float) -> str:
    """``1 h 05 min``, ``7 min 10 s`` or ``42 s``."""
    if not math.isfinite(seconds):
        return "unknown"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


class TimingRun:
    """A short training run in its own process whose events give an :class:`Eta`; poll it from a timer."""

    def __init__(self, plan: RetrainPlan, folder: Path, *, threads: int | None = None) -> None:
        self.runner = TrainingRunner(threads=threads)
        self._plan = replace(plan, budget_kind="steps", budget=10_000, checkpoint_every=0)
        self._folder = Path(folder)
        self._t0 = 0.0
        self._first_step_at: float | None = None
        self._elapsed: list[float] = []
        self._device = ""
        self.error = ""  # why the run failed, "" otherwise

    def start(self) -> None:
        """Begin the timing run (returns at once)."""
        train_plan = self._plan.to_train_plan(self._folder / "timing.safetensors")
        self._t0 = time.monotonic()
        self.runner.start(train_plan, stop_after=TIMING_STEPS)

    def poll(self) -> Eta | None:
        """The estimate once the run has ended, else None (also None on failure: see ``error``)."""
        for event in self.runner.poll():
            self._note(event)
        if self.runner.running or self.error:
            return None
        return self.result()

    def _note(self, event: TrainEvent) -> None:
        if event.kind == "info":
            self._device = event.message.split(" on ", 1)[-1].split(":", 1)[0]
        elif event.kind == "step":
            if self._first_step_at is None:
                self._first_step_at = time.monotonic()
            self._elapsed.append(event.elapsed_s)
        elif event.kind == "failed":
            self.error = event.message

    def result(self) -> Eta:
        """The estimate from the events seen.

        Raises:
            DraemError: the run made fewer than two steps.
        """
        if len(self._elapsed) < 2 or self._first_step_at is None:
            msg = self.error or f"the timing run made only {len(self._elapsed)} steps"
            raise DraemError(msg)
        step_s = statistics.median(b - a for a, b in zip(self._elapsed, self._elapsed[1:], strict=False))
        return Eta(self._first_step_at - self._t0, step_s, self._device or "unknown device")

    def cancel(self) -> None:
        """Stop the timing run early."""
        self.runner.cancel()


def measure_eta(
    plan: RetrainPlan, folder: Path, *, threads: int | None = None, timeout: float = 300.0
) -> Eta:
    """Blocking form of :class:`TimingRun` (for scripts and tests; never call it on the GUI thread)."""
    run = TimingRun(plan, folder, threads=threads)
    run.start()
    for event in run.runner.wait(timeout):
        run._note(event)
    if run.runner.running:
        run.runner.kill()
        msg = f"the timing run did not finish within {timeout:g} s"
        raise DraemError(msg)
    return run.result()
