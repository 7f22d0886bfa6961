"""Does memory stay flat over many open/start/stop/close cycles? (harvesters#502 reports ~10 MB per cycle.)

Two measurements with the simulated camera, resident set size (RSS) read from ``/proc`` (Linux):

* ``device-startstop``: one acquisition process keeps the device open and starts, grabs a few frames and
  stops ``--cycles`` times (what an operator does all shift); the acquisition process's RSS is sampled;
* ``device-reopen``: the same, but the device is also opened and released every cycle (one Harvester,
  a new ImageAcquirer each time: what a reconnect does);
* ``source``: the application opens/starts/stops/closes a :class:`GenICamSource` ``--cycles`` times (a new
  acquisition process each time); the application's own RSS is sampled.

Growth is reported from cycle ``--warmup`` to the end and, per cycle, over the second half of the run: a
leak grows steadily, while a one-off step (a malloc arena for a producer thread, say) does not repeat.

Usage::

    python bench/camera_memory.py --cycles 200 [--only device-startstop|device-reopen|source] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.camera.acquisition_process import AcquisitionConfig  # noqa: E402
from app.camera.device_session import SessionConfig  # noqa: E402
from app.camera.discovery import simulator_path  # noqa: E402
from app.camera.process_client import AcquisitionClient  # noqa: E402
from app.camera.shm_ring import ShmRing  # noqa: E402
from app.sources.factory import open_source  # noqa: E402


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def device_cycles(cycles: int, warmup: int, frames: int, reopen: bool) -> list[float]:
    """RSS of one acquisition process across start/grab/stop cycles (``reopen``: also open/release each time)."""
    config = AcquisitionConfig(session=SessionConfig(producers=(str(simulator_path()),), serial="0"))
    client = AcquisitionClient(config, "0")
    ring = None
    samples = []
    try:
        for i in range(cycles):
            if ring is None or reopen:
                info = client.call("open", 30.0)
                client.call("set", 5.0, name="AcquisitionFrameRate", value=200.0)
            if ring is None:
                ring = ShmRing.create(3, info["max_frame_bytes"])
                client.call("attach_ring", 5.0, name=ring.name)
            client.call("start", 5.0)
            seen = ring.counters().received
            deadline = time.monotonic() + 5.0
            while ring.counters().received < seen + frames and time.monotonic() < deadline:
                time.sleep(0.002)
            client.call("stop", 5.0)
            if reopen:
                client.call("release", 5.0)
            if i + 1 >= warmup:
                samples.append(rss_mb(client.pid))
    finally:
        client.shutdown(5.0)
        if ring is not None:
            ring.close()
    return samples


def source_cycles(cycles: int, warmup: int, frames: int) -> list[float]:
    """RSS of this (application) process across GenICamSource open/start/stop/close cycles."""
    samples = []
    for i in range(cycles):
        source = open_source("sim:0")
        source.open()
        source.start()
        for _ in range(frames):
            source.wait_latest(2.0)
        source.stop()
        source.close()
        if i + 1 >= warmup:
            samples.append(rss_mb())
    return samples


def summary(samples: list[float], warmup: int) -> dict:
    """Growth over the whole run and over its second half: a leak grows in both, a one-off step only once."""
    half = len(samples) // 2
    late = samples[-1] - samples[half]
    return {
        "rss_at_warmup_mb": round(samples[0], 1),
        "rss_end_mb": round(samples[-1], 1),
        "rss_max_mb": round(max(samples), 1),
        "growth_mb": round(samples[-1] - samples[0], 2),
        "second_half_growth_mb": round(late, 2),
        "second_half_per_cycle_kb": round(late * 1024 / max(len(samples) - 1 - half, 1), 1),
        "from_cycle": warmup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--frames", type=int, default=3, help="frames grabbed per cycle")
    parser.add_argument("--only", choices=("device-startstop", "device-reopen", "source"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    modes = {
        "device-startstop": lambda c, w, f: device_cycles(c, w, f, reopen=False),
        "device-reopen": lambda c, w, f: device_cycles(c, w, f, reopen=True),
        "source": source_cycles,
    }
    for name, run in modes.items():
        if args.only in (None, name):
            start = time.monotonic()
            samples = run(args.cycles, args.warmup, args.frames)
            results[name] = summary(samples, args.warmup) | {
                "cycles": args.cycles,
                "seconds": round(time.monotonic() - start, 1),
            }
            print(f"{name}: {results[name]}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
