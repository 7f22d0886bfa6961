"""Pipeline statistics: a thread-safe accumulator and the frozen snapshot the view and self-test read."""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np

from app.sources.base import SourceState, SourceStats
from draem_core.verdict import NG, NOT_JUDGED

LATENCY_WINDOW = 256  # latest latencies the percentiles are taken over
RATE_WINDOW_S = 2.0  # the inspected-fps window


@dataclass(frozen=True)
class PipelineStats:
    """A snapshot of what the pipeline did since the last counter reset."""

    camera_fps: float  # arrival rate reported by the source
    inspected_fps: float  # verdicts per second over the last couple of seconds
    latency_p50_ms: float  # median frame-arrival-to-verdict latency (recent frames)
    latency_p95_ms: float  # 95th percentile of the same
    inference_ms: float  # median time in the model (recent frames)
    dropped: int  # free run: frames the source delivered that were not inspected (the worker took a newer one)
    inspected: int  # verdicts given (OK + NG + NOT_JUDGED): one per judged frame or trigger
    ng: int  # verdicts NG
    device: str  # where the model runs ("cpu", "cuda:0"), "" without a model
    source_state: SourceState  # the source's own state (RECONNECTING/ERROR when lost)
    source_error: str  # the source's last error message
    not_judged: int = 0  # verdicts NOT_JUDGED (the model could not judge the part: rejected, never OK)
    overruns: int = 0  # triggered: triggers whose frame did not fit in the queue (also NOT_JUDGED)

    @property
    def ok(self) -> int:
        """Verdicts OK."""
        return self.inspected - self.ng - self.not_judged

    @property
    def yield_pct(self) -> float:
        """Share of verdicts that are OK, in percent (100 before the first verdict)."""
        return 100.0 * self.ok / self.inspected if self.inspected else 100.0

    @property
    def source_lost(self) -> bool:
        """The source is reconnecting or failed."""
        return self.source_state in (SourceState.RECONNECTING, SourceState.ERROR)


class StatsAccumulator:
    """Counters updated by the worker thread and read by any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero the counters (inspected, NG, dropped, errors) and forget the latency history."""
        with self._lock:
            self._inspected = self._ng = self._dropped = self._not_judged = 0
            self._latency: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
            self._inference: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
            self._times: collections.deque[float] = collections.deque()

    def frame_skipped(self, count: int) -> None:
        """``count`` frames went by without being inspected."""
        if count > 0:
            with self._lock:
                self._dropped += count

    def judged(self, verdict: str, latency_ms: float, inference_ms: float) -> None:
        """One verdict was given."""
        now = time.monotonic()
        with self._lock:
            self._inspected += 1
            self._ng += verdict == NG
            self._not_judged += verdict == NOT_JUDGED
            self._latency.append(latency_ms)
            self._inference.append(inference_ms)
            self._times.append(now)
            while self._times and now - self._times[0] > RATE_WINDOW_S:
                self._times.popleft()

    def snapshot(self, source: SourceStats, device: str) -> PipelineStats:
        """The frozen view of the counters together with the source's state."""
        now = time.monotonic()
        with self._lock:
            times = [t for t in self._times if now - t <= RATE_WINDOW_S]
            latency = np.asarray(self._latency, dtype=np.float64)
            inference = np.asarray(self._inference, dtype=np.float64)
            counts = (self._dropped, self._inspected, self._ng, self._not_judged)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        p50, p95 = np.percentile(latency, [50, 95]) if latency.size else (0.0, 0.0)
        return PipelineStats(
            camera_fps=float(source.fps),
            inspected_fps=float(fps),
            latency_p50_ms=float(p50),
            latency_p95_ms=float(p95),
            inference_ms=float(np.median(inference)) if inference.size else 0.0,
            dropped=counts[0],
            inspected=counts[1],
            ng=counts[2],
            device=device,
            source_state=source.state,
            source_error=source.last_error,
            not_judged=counts[3],
            overruns=source.overruns,
        )
