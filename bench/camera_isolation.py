"""Does camera acquisition slow the application's Python threads? In-process harvesters vs our process.

A plain Python thread counts loop iterations for a few seconds:

* idle: nothing else runs;
* in-process: a harvesters fetch loop (fetch, copy, decode) runs in a thread of the same process, as a naive
  app would do it (a blocking fetch holds the GIL while it waits: harvesters#508);
* isolated: :class:`app.sources.genicam.GenICamSource` acquires in its own process and hands frames over
  shared memory; optionally a consumer thread takes the newest frame at ``--consumer-hz`` like a display timer.

The simulated camera runs at ``--fps`` (its maximum is 200). Each case is measured right after an idle
measurement, ``--repeats`` times; the table shows medians: the share of the idle rate kept, the camera rate,
the CPU the application process spent besides the counting thread ("app CPU", in % of one core: what
acquisition costs the application) and the CPU of the acquisition process. On a machine whose cores are
busy with other work the kept share also drops from plain CPU contention; "app CPU" does not.

Usage::

    python bench/camera_isolation.py --seconds 3 --repeats 3 --fps 200 [--pin] [--json out.json]
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


def count_iterations(seconds: float) -> tuple[float, float]:
    """Iterations per second of a plain Python loop in a thread of this process, and the CPU the rest of
    this process used meanwhile (in cores: 0.3 = 30 % of one core), which is what acquisition costs the app."""
    state = {"stop": False, "n": 0, "cpu": 0.0}

    def loop() -> None:
        n, cpu0 = 0, time.thread_time()
        while not state["stop"]:
            n += 1
        state["n"], state["cpu"] = n, time.thread_time() - cpu0

    worker = threading.Thread(target=loop)
    start, proc0 = time.perf_counter(), _process_cpu()
    worker.start()
    time.sleep(seconds)
    state["stop"] = True
    worker.join()
    wall = time.perf_counter() - start
    return state["n"] / wall, max(0.0, _process_cpu() - proc0 - state["cpu"]) / wall


def _process_cpu(pid: int | None = None) -> float:
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process(seconds: float, fps: float) -> tuple[float, float, float, float]:
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
    rate, app_cpu = count_iterations(seconds)
    achieved = (state["frames"] - first) / seconds
    state["stop"] = True
    worker.join()
    ia.stop()
    ia.destroy()
    harvester.reset()
    return rate, achieved, app_cpu, 0.0


def isolated(seconds: float, fps: float, consumer_hz: float, pin: bool) -> tuple[float, float, float, float]:
    """Counting rate and camera fps with acquisition in its own process (and an optional consumer)."""
    source = open_source("sim:0")
    source.open()
    if pin:  # every thread of the acquisition process (the producer has its own) onto CPU 1
        for tid in os.listdir(f"/proc/{source.stats().extra['pid']}/task"):
            os.sched_setaffinity(int(tid), {1})
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
        received, pid = source.stats().received, source.stats().extra["pid"]
        child0 = _process_cpu(pid)
        rate, app_cpu = count_iterations(seconds)
        achieved = (source.stats().received - received) / seconds
        child_cpu = (_process_cpu(pid) - child0) / seconds
        stop.set()
        if consumer is not None:
            consumer.join()
    finally:
        stop.set()
        source.close()
    return rate, achieved, app_cpu, child_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fps", type=float, default=200.0)
    parser.add_argument("--consumer-hz", type=float, default=30.0, help="0: no consumer thread")
    parser.add_argument(
        "--pin", action="store_true", help="this process on CPU 0, the acquisition process on CPU 1"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.pin:
        os.sched_setaffinity(0, {0})
    cases = {
        "in-process harvesters fetch loop": lambda: in_process(args.seconds, args.fps),
        "isolated acquisition process": lambda: isolated(args.seconds, args.fps, 0.0, args.pin),
        f"isolated + {args.consumer_hz:g} Hz latest() consumer": lambda: isolated(
            args.seconds, args.fps, args.consumer_hz, args.pin
        ),
    }
    results = {}
    for name, run in cases.items():
        runs = []
        for _ in range(args.repeats):
            idle, _ = count_iterations(args.seconds)
            rate, achieved, app_cpu, child_cpu = run()
            runs.append((rate / idle, achieved, app_cpu, child_cpu))
        med = [statistics.median(r[i] for r in runs) for i in range(4)]
        results[name] = {
            "kept_of_idle": med[0],
            "camera_fps": med[1],
            "app_cpu_cores": med[2],
            "acquisition_process_cpu_cores": med[3],
            "all_kept": [round(r[0], 3) for r in runs],
        }
    print(
        f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f} fps_set={args.fps:g} seconds={args.seconds:g} "
        f"repeats={args.repeats} pinned={args.pin}"
    )
    print(
        f"{'case':<40} {'thread rate kept':>16} {'camera fps':>10} {'app CPU':>8} {'acq CPU':>8}  runs (kept)"
    )
    for name, r in results.items():
        print(
            f"{name:<40} {r['kept_of_idle']:>16.0%} {r['camera_fps']:>10.1f} {r['app_cpu_cores']:>8.0%} "
            f"{r['acquisition_process_cpu_cores']:>8.0%}  {r['all_kept']}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
