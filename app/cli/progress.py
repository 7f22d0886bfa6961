"""A one-line terminal progress bar for training (stderr; plain lines when not a terminal)."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "--:--"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressBar:
    def __init__(self, stream=None, width: int = 28, plain_every_s: float = 10.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = self.stream.isatty()
        self.plain_every_s = plain_every_s
        self._last_plain = 0.0

    def update(self, e) -> None:  # e: draem_core.train.TrainEvent
        frac = min(1.0, e.step / e.total_steps) if e.total_steps else 0.0
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"[{bar}] {e.step}/{e.total_steps} loss {e.loss:.4f} (l2 {e.l2:.4f} ssim {e.ssim:.4f} "
                f"focal {e.focal:.4f}) lr {e.lr:.1e} {e.images_per_s:.1f} img/s eta {_clock(e.eta_s)}")  # fmt: skip
        if self.tty:
            self.stream.write("\r" + line)
            self.stream.flush()
        elif time.monotonic() - self._last_plain >= self.plain_every_s or e.step == e.total_steps:
            self._last_plain = time.monotonic()
            print(line, file=self.stream, flush=True)

    def note(self, text: str) -> None:
        if self.tty:
            self.stream.write("\n")
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
