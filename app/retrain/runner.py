"""Training in a separate process, so the GUI and the live inspection stay responsive.

The child runs :func:`draem_core.train.train` and sends every :class:`TrainEvent` back over a queue; the
parent pulls them with :meth:`TrainingRunner.poll` (from a GUI timer, never blocking). Cancelling sets a
shared flag the child polls between steps: it writes a checkpoint and ends with a "cancelled" event. Resuming
starts a new child from that checkpoint, so the step numbers continue. Checkpoints are written every
``checkpoint_every`` steps, so killing the child outright loses at most that many steps.

The runner adds one event kind to draem_core's: ``failed`` (message = the reason), sent when training
raised or the child died without saying goodbye.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from dataclasses import replace
from pathlib import Path

from draem_core.checkpoint import checkpoint_path
from draem_core.errors import DraemError
from draem_core.train import TrainEvent, TrainPlan

TERMINAL = ("done", "cancelled", "failed")  # event kinds after which the child exits
JOIN_S = 5.0  # how long kill() waits for the killed child to be reaped


def _child(plan: TrainPlan, stop, events, threads: int | None, stop_after: int | None) -> None:
    """Entry point of the training process (module level, so the spawn start method can import it)."""
    import torch

    from draem_core.train import train

    if threads:
        torch.set_num_threads(threads)
    steps = 0

    def should_stop() -> bool:
        return bool(stop.value) or (stop_after is not None and steps >= stop_after)

    try:
        for event in train(plan, should_stop):
            if event.kind == "step":
                steps += 1
            events.put(event)
    except DraemError as exc:
        events.put(TrainEvent("failed", message=str(exc)))
    except Exception as exc:  # noqa: BLE001  (the child must always report, never die silently)
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        events.put(TrainEvent("failed", message=f"training crashed: {detail}"))


class TrainingRunner:
    """One training process at a time: start, poll, cancel, resume, kill.

    Args:
        threads: torch CPU threads in the child (None = torch's default).
        start_method: multiprocessing start method; "spawn" gives a clean child on every platform.
    """

    def __init__(self, *, threads: int | None = None, start_method: str = "spawn") -> None:
        self.threads = threads
        self._ctx = mp.get_context(start_method)
        self._process: mp.process.BaseProcess | None = None
        self._stop = None
        self._events = None
        self._ended = True
        self.plan: TrainPlan | None = None
        self.last_step = 0  # newest step reported by the child
        self.last_checkpoint: tuple[int, Path] | None = None  # (step, path) of the newest checkpoint

    @property
    def running(self) -> bool:
        """A child is training (or has not yet sent its last event)."""
        return not self._ended

    @property
    def pid(self) -> int | None:
        """Process id of the child, None before the first start."""
        return self._process.pid if self._process is not None else None

    def checkpoint(self) -> Path | None:
        """The checkpoint file of the current plan, if it exists."""
        if self.plan is None:
            return None
        path = checkpoint_path(self.plan.out)
        return path if path.is_file() else None

    def start(self, plan: TrainPlan, *, stop_after: int | None = None) -> None:
        """Start training ``plan`` in a new process.

        Args:
            plan: the run; ``plan.resume`` continues a checkpoint.
            stop_after: cancel by itself after this many step events (the ETA timing run).

        Raises:
            RuntimeError: a run is already going.
        """
        if self.running:
            msg = "a training run is already going; cancel it first"
            raise RuntimeError(msg)
        self.plan = plan
        # A lock-free shared flag, not an Event: a child killed while it held the Event's lock would leave
        # the parent's next cancel() waiting forever.
        self._stop = self._ctx.RawValue("b", 0)
        self._events = self._ctx.Queue()
        args = (plan, self._stop, self._events, self.threads, stop_after)
        self._process = self._ctx.Process(target=_child, args=args, name="draem-train", daemon=True)
        self._process.start()
        self._ended = False

    def resume(self) -> None:
        """Continue the last plan from its checkpoint (after a cancel, a failure or a kill).

        Raises:
            DraemError: there is no plan or no checkpoint to continue.
        """
        ckpt = self.checkpoint()
        if self.plan is None or ckpt is None:
            msg = "nothing to resume: no checkpoint was written yet"
            raise DraemError(msg)
        self.start(replace(self.plan, resume=ckpt))

    def cancel(self) -> None:
        """Ask the child to stop after the current step; it writes a checkpoint first."""
        if self._stop is not None:
            self._stop.value = 1

    def kill(self) -> None:
        """End the child at once (what a crash or power cut does); work since the last checkpoint is lost."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(JOIN_S)

    def poll(self) -> list[TrainEvent]:
        """Every event that arrived since the last call; never blocks.

        Ends with a "failed" event when the child died without a last event.
        """
        out: list[TrainEvent] = []
        if self._events is None or self._ended:
            return out
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
        for event in out:
            self._note(event)
        if not self._ended and self._process is not None and not self._process.is_alive():
            out += self._drain_after_exit()
        return out

    def _note(self, event: TrainEvent) -> None:
        if event.kind == "step":
            self.last_step = event.step
        elif event.kind in ("checkpoint", "cancelled") and event.path:
            self.last_checkpoint = (event.step, Path(event.path))
        if event.kind in TERMINAL:
            self._ended = True  # the child exits by itself; joining it here would make the GUI wait

    def _drain_after_exit(self) -> list[TrainEvent]:
        """The child is gone: collect what it managed to send, then report its death if it sent no end."""
        out = []
        try:
            while True:
                out.append(self._events.get(timeout=0.2))  # type: ignore[union-attr]
        except queue.Empty:
            pass
        for event in out:
            self._note(event)
        if not self._ended:
            code = self._process.exitcode if self._process is not None else None
            saved = (
                f"; the checkpoint at step {self.last_checkpoint[0]} can be resumed"
                if self.last_checkpoint
                else ""
            )
            event = TrainEvent(
                "failed",
                self.last_step,
                message=f"training process ended unexpectedly (exit code {code}){saved}",
            )
            out.append(event)
            self._ended = True
        return out

    def wait(self, timeout: float) -> list[TrainEvent]:
        """Block up to ``timeout`` seconds for the run to end, returning its events (tests, the CLI)."""
        import time

        end = time.monotonic() + timeout
        events: list[TrainEvent] = []
        while self.running and time.monotonic() < end:
            events += self.poll()
            time.sleep(0.05)
        return events

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel, let the child write its checkpoint, and kill it if it does not end within ``timeout``."""
        if self.running:
            self.cancel()
            self.wait(timeout)
        self.kill()


RUNS = "runs"  # sub-folder of a dataset holding its training runs (model + checkpoint)


def new_run_path(dataset: Path) -> Path:
    """Model file of a new run of ``dataset``: ``<dataset>/runs/<UTC time>.safetensors`` (unique)."""
    import time

    folder = Path(dataset) / RUNS
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path, n = folder / f"{stamp}.safetensors", 1
    while path.exists() or checkpoint_path(path).exists():
        n += 1
        path = folder / f"{stamp}-{n}.safetensors"
    return path


def unfinished_run(dataset: Path) -> tuple[Path, int] | None:
    """The newest run of ``dataset`` if it has a checkpoint but no model file: ``(model path, checkpoint step)``.

    Only the newest run counts: once a newer run was started, an older interrupted one is not offered again.
    """
    folder = Path(dataset) / RUNS
    ckpts = (
        sorted(folder.glob("*.ckpt.safetensors"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    )
    if not ckpts:
        return None
    model = ckpts[-1].with_name(ckpts[-1].name.removesuffix(".ckpt.safetensors") + ".safetensors")
    step = checkpoint_step(ckpts[-1])
    return (model, step) if step is not None and not model.exists() else None


def checkpoint_step(path: Path) -> int | None:
    """The step a checkpoint was written at, read from its header only; None when it is unreadable."""
    import json

    from draem_core.modelfile import META_KEY

    try:
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if not 0 < n < 100_000_000:
                return None
            meta = json.loads(fh.read(n)).get("__metadata__", {})
        return int(json.loads(meta[META_KEY])["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
