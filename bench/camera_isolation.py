"""Does camera acquisition slow the application's Python threads? In-process harvesters vs our process.

A plain Python thread counts loop iterations for a few seconds:

* idle: nothing else runs;
* in-process: a harvesters fetch loop (fetch, copy, decode) runs in a thread of the same process, as a naive
  app would do it (a blocking fetch holds the GIL while it waits: harvesters#508);
* isolated: :class:`app.camera.genicam_source.GenICamSource` acquires in its own process and hands frames over
  shared memory; optionally a consumer thread takes the newest frame at ``--consumer-hz`` like a display timer.

The simulated camera runs at ``--fps`` (its maximum is 200). Each case is measured right after an idle
measurement, ``--repeats`` times; the table shows medians and the share of the idle rate kept.

Usage::

    python bench/camera_isolation.py --seconds 3 --repeats 3 --fps 200 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.camera.discovery import simulator_path  # noqa: E402
from app.camera.pixel_formats import decode  # noqa: E402
from app.sources.factory import open_source  # noqa: E402


def count_iterations(seconds: float) -> float:
    """Iterations per second of a plain Python loop in a thread of this process."""
    state = {"stop": False, "n": 0}

    def loop() -> None:
        n = 0
        while not state["stop"]:
            n += 1
        state["n"] = n

    worker = threading.Thread(target=loop)
    start = time.perf_counter()
    worker.start()
    time.sleep(seconds)
    state["stop"] = True
    worker.join()
    return state["n"] / (time.perf_counter() - start)


def in_process(seconds: float, fps: float) -> tuple[float, float]:
    """Counting rate and camera fps with a harvesters fetch loop in this process."""
    from harvesters.core import Harvester

    harvester = Harvester()
    harvester.add_file(str(simulator_path()))
    harvester.update()
    ia = harvester.create({"serial_number": "0"})
    ia.remote_device.node_map.AcquisitionFrameRate.value = fps
    ia.data_streams[0].node_map.StreamBufferHandlingMode.value = "NewestOnly"
    state = {"stop": False, "frames": 0}

    def fetch_loop() -> None:
        while not state["stop"]:
            with ia.fetch(timeout=1.0) as buffer:
                c = buffer.payload.components[0]
                decode(c.data.copy(), c.width, c.height, c.data_format)
                state["frames"] += 1

    ia.start()
    worker = threading.Thread(target=fetch_loop)
    worker.start()
    time.sleep(0.5)
    first = state["frames"]
    rate = count_iterations(seconds)
    achieved = (state["frames"] - first) / seconds
    state["stop"] = True
    worker.join()
    ia.stop()
    ia.destroy()
    harvester.reset()
    return rate, achieved


def isolated(seconds: float, fps: float, consumer_hz: float) -> tuple[float, float]:
    """Counting rate and camera fps with acquisition in its own process (and an optional consumer)."""
    source = open_source("sim:0")
    source.open()
    stop = threading.Event()
    try:
        source.control("set_frame_rate", fps)
        source.start()
        consumer = None
        if consumer_hz > 0:
            consumer = threading.Thread(
                target=lambda: [source.latest() for _ in iter(lambda: stop.wait(1 / consumer_hz), True)]
            )
            consumer.start()
        time.sleep(0.5)
        received = source.stats().received
        rate = count_iterations(seconds)
        achieved = (source.stats().received - received) / seconds
        stop.set()
        if consumer is not None:
            consumer.join()
    finally:
        stop.set()
        source.close()
    return rate, achieved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fps", type=float, default=200.0)
    parser.add_argument("--consumer-hz", type=float, default=30.0, help="0: no consumer thread")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases = {
        "in-process harvesters fetch loop": lambda: in_process(args.seconds, args.fps),
        "isolated acquisition process": lambda: isolated(args.seconds, args.fps, 0.0),
        f"isolated + {args.consumer_hz:g} Hz latest() consumer": lambda: isolated(
            args.seconds, args.fps, args.consumer_hz
        ),
    }
    results = {}
    for name, run in cases.items():
        kept, rates = [], []
        for _ in range(args.repeats):
            idle = count_iterations(args.seconds)
            rate, achieved = run()
            kept.append(rate / idle)
            rates.append(achieved)
        results[name] = {
            "kept_of_idle": statistics.median(kept),
            "camera_fps": statistics.median(rates),
            "all_kept": [round(k, 3) for k in kept],
        }
    print(
        f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} fps_set={args.fps:g} seconds={args.seconds:g} "
        f"repeats={args.repeats}"
    )
    print(f"{'case':<42} {'thread rate kept':>17} {'camera fps':>11}  runs")
    for name, r in results.items():
        print(f"{name:<42} {r['kept_of_idle']:>16.0%} {r['camera_fps']:>11.1f}  {r['all_kept']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
