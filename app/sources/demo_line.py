"""The demo production line: a camera-free frame source showing flanges passing, some of them defective.

Frames come from :class:`app.sources.demo_render.PartRenderer` on a background thread paced at ``fps`` and
land in the source's :class:`~app.sources.slot.FrameSlot`. Frame ``i`` is a pure function of ``(seed, i)``, so a seed replays the same line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.sources.base import Frame, SourceState, SourceStats
from app.sources.demo_defects import DEFECT_KINDS
from app.sources.demo_render import LineVariation, PartRenderer, RenderedPart
from app.sources.demo_textures import load_textures
from app.sources.slot import FrameSlot

MIN_SIDE = 64  # smallest image side the flange can be drawn at legibly


@dataclass(frozen=True)
class DemoLineConfig:
    """Settings of the synthetic production line."""

    width: int = 640  # image width in pixels
    height: int = 480  # image height in pixels
    fps: float = 10.0  # parts (frames) per second
    defect_rate: float = 0.2  # probability that a part is defective, 0..1
    seed: int = 0  # seed of the frame sequence: the same seed gives the same frames
    kinds: tuple[str, ...] = DEFECT_KINDS  # defect kinds drawn from, uniformly
    texture_dir: Path | None = None  # CC0 texture images; None: the bundled resources/textures
    name: str = "demo-line"  # source name and Frame.source_id
    variation: LineVariation = field(default_factory=LineVariation)  # part, light and camera variation

    def __post_init__(self) -> None:
        problems = []
        if self.width < MIN_SIDE or self.height < MIN_SIDE:
            problems.append(f"image size {self.width}x{self.height} is below {MIN_SIDE}x{MIN_SIDE}")
        if self.seed < 0:
            problems.append(f"seed {self.seed} must be 0 or more")
        if not self.fps > 0:
            problems.append(f"fps {self.fps} must be positive")
        if not 0.0 <= self.defect_rate <= 1.0:
            problems.append(f"defect_rate {self.defect_rate} must lie in 0..1")
        unknown = [k for k in self.kinds if k not in DEFECT_KINDS]
        if unknown or not self.kinds:
            problems.append(
                f"defect kinds {list(self.kinds)} must be a non-empty subset of {list(DEFECT_KINDS)}"
            )
        if problems:
            msg = "demo line config: " + "; ".join(problems)
            raise ValueError(msg)


class DemoLine:
    """Synthetic production line satisfying :class:`app.sources.base.FrameSource`.

    ``open()`` builds the renderer (reads the textures: call it off the GUI thread, or just call
    ``start()``, which builds it on the generator thread). Each frame carries its ground-truth ``mask`` and
    ``label``.

    Args:
        config: Line settings; defaults to :class:`DemoLineConfig`.
    """

    def __init__(self, config: DemoLineConfig | None = None) -> None:
        self.config = config or DemoLineConfig()
        self.name = self.config.name
        self._renderer: PartRenderer | None = None
        self.slot = FrameSlot()
        self._build_lock = threading.Lock()
        self._lock = threading.Lock()  # state and counts
        self._state = SourceState.CLOSED
        self._next_index = 0
        self._counts = {"good": 0, "defective": 0}
        self._last_error = ""
        self._render_ms = 0.0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- pure frame generation -------------------------------------------------------------------------

    def plan(self, index: int) -> str | None:
        """The defect kind of frame ``index`` (None for a good part), without rendering it."""
        return self._choose(self._rng(index))

    def render(self, index: int) -> tuple[RenderedPart, str]:
        """Render frame ``index``: ``(RenderedPart(image, mask), label)``; label is "good" or a kind."""
        rng = self._rng(index)
        kind = self._choose(rng)
        return self.renderer().render_part(rng, kind), kind or "good"

    def renderer(self) -> PartRenderer:
        """The part renderer, built on first use (reads the textures; raises DatasetError if they are missing)."""
        with self._build_lock:
            if self._renderer is None:
                c = self.config
                textures = load_textures(c.texture_dir)
                self._renderer = PartRenderer(c.width, c.height, textures=textures, variation=c.variation)
            return self._renderer

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, index])

    def _choose(self, rng: np.random.Generator) -> str | None:
        defective = rng.random() < self.config.defect_rate
        kind = self.config.kinds[
            int(rng.integers(len(self.config.kinds)))
        ]  # drawn always: same scenes per seed
        return kind if defective else None

    # -- FrameSource -----------------------------------------------------------------------------------

    def open(self) -> None:
        """Build the renderer (blocks for a fraction of a second; not on the GUI thread)."""
        try:
            self.renderer()
        except Exception as exc:
            self._fail(exc)
            raise
        with self._lock:
            if self._state in (SourceState.CLOSED, SourceState.ERROR):
                self._state = SourceState.OPEN

    def start(self) -> None:
        """Start generating frames on a background thread (returns at once)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._state = SourceState.LIVE
            self._last_error = ""
            self._thread = threading.Thread(target=self._run, name=f"{self.name}-generator", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop generating and wait for the generator thread to end."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:
            self._thread = None
            if self._state is SourceState.LIVE:
                self._state = SourceState.OPEN
        self.slot.close()

    def close(self) -> None:
        """Stop and release the renderer's memory."""
        self.stop()
        with self._build_lock:
            self._renderer = None
        with self._lock:
            self._state = SourceState.CLOSED
        self.slot.clear()

    def latest(self) -> Frame | None:
        """The newest frame not returned before, or None."""
        return self.slot.take()

    def wait_latest(self, timeout: float) -> Frame | None:
        """Wait up to ``timeout`` s for a frame not returned before (None at once when not live)."""
        return self.slot.wait(timeout)

    def stats(self) -> SourceStats:
        """A snapshot of the counters; ``extra`` has good/defective counts and the last render time."""
        c = self.slot.counters()
        with self._lock:
            return SourceStats(
                state=self._state,
                received=c.received,
                dropped=c.dropped,
                overruns=c.overruns,
                fps=c.fps if self._state is SourceState.LIVE else 0.0,
                last_error=self._last_error,
                extra={
                    "good": self._counts["good"],
                    "defective": self._counts["defective"],
                    "render_ms": round(self._render_ms, 2),
                },
            )

    # -- generator thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self.renderer()
            period = 1.0 / self.config.fps
            due = time.monotonic()
            while not self._stop.is_set():
                self._publish(self._make_frame(self._next_index))
                self._next_index += 1
                due = max(due + period, time.monotonic())  # late frames are not caught up in a burst
                self._stop.wait(max(0.0, due - time.monotonic()))
        except Exception as exc:  # a worker never lets an exception escape: it reports it in the stats
            self._fail(exc)

    def _make_frame(self, index: int) -> Frame:
        started = time.perf_counter()
        (image, mask), label = self.render(index)
        self._render_ms = 1e3 * (time.perf_counter() - started)
        return Frame(
            image=image,
            frame_id=index,
            timestamp=time.monotonic(),
            device_timestamp=int(index * 1e9 / self.config.fps),  # the line's own clock: one tick per part
            source_id=self.name,
            mask=mask,
            label=label,
        )

    def _publish(self, frame: Frame) -> None:
        with self._lock:
            self._counts["good" if frame.label == "good" else "defective"] += 1
        self.slot.put(frame)

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            self._state = SourceState.ERROR
            self._last_error = str(exc)
        self.slot.close()
