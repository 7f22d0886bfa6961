"""Soak test: ``draem-inspect run`` for a long time; does memory or the number of open files grow?

Runs the headless station (default: the demo line and the simulated camera, two sources, the bundled demo
model) in a child process with its own data folder, and samples every ``--interval`` seconds the resident
set size (RSS) and open file descriptors of the run process and of every process below it (the camera's
acquisition process). psutil is used when installed, else ``/proc`` (Linux).

Growth is measured after ``--warmup`` seconds (model load, first allocations, the trace's first pages): a
least-squares line through the total RSS gives MB per hour, extrapolated to an 8-hour shift (goal: at
most 50 MB). A one-off step at start-up does not repeat; a leak grows steadily, so the slope shows it.

Usage::

    nice -n 10 python bench/soak.py --seconds 3600 --json soak.json [--source demo --source sim]
    python bench/soak.py --analyse soak.json --seconds 3600  # the growth of a saved run again
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SHIFT_H = 8.0  # the extrapolation horizon


@dataclass(frozen=True)
class Sample:
    """One look at the process tree."""

    t_s: float  # seconds since the run started
    rss_main_mb: float  # the run process
    rss_children_mb: float  # everything below it (acquisition processes)
    fds_main: int  # open file descriptors of the run process
    fds_children: int
    threads_main: int
    processes: int  # the run process and its descendants
    trace_mb: float  # size of the trace database (+ WAL) on disk
    rss_anon_main_mb: float = 0.0  # of the run process's RSS: anonymous memory (heap, arenas; Linux, else 0)
    rss_file_main_mb: float = 0.0  # of it: file and shared memory mappings (libraries, SQLite, frame ring)


# --- process tree: psutil when installed, else /proc ------------------------------------------------------


def _tree(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        found, todo = [], [pid]
        while todo:
            p = todo.pop()
            found.append(p)
            todo.extend(children.get(p, ()))
        return found
    try:
        return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _rss_fds_threads(pid: int) -> tuple[float, int, int]:
    """RSS (MiB), open descriptors and threads of one process; zeros once it has ended."""
    try:
        import psutil
    except ImportError:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return 0.0, 0, 0
        values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(values["VmRSS"].split()[0]) / 1024, fds, int(values["Threads"])
    try:
        p = psutil.Process(pid)
        return p.memory_info().rss / 2**20, p.num_fds(), p.num_threads()
    except psutil.Error:
        return 0.0, 0, 0


def _rss_split(pid: int) -> tuple[float, float]:
    """Anonymous and file + shared RSS (MiB) of one process from ``/proc`` (zeros where there is none)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    kib = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in status.splitlines() if ":" in line)
           if k in ("RssAnon", "RssFile", "RssShmem")}  # fmt: skip
    return kib.get("RssAnon", 0) / 1024, (kib.get("RssFile", 0) + kib.get("RssShmem", 0)) / 1024


def sample(pid: int, started: float, trace: Path) -> Sample:
    """RSS, descriptors and threads of ``pid`` and its descendants, and the trace's size."""
    tree = _tree(pid)
    main = _rss_fds_threads(pid)
    anon, file = _rss_split(pid)
    rest = [_rss_fds_threads(p) for p in tree[1:]]
    trace_bytes = sum(p.stat().st_size for p in trace.parent.glob(trace.name + "*") if p.is_file())
    return Sample(round(time.monotonic() - started, 1), round(main[0], 1), round(sum(r[0] for r in rest), 1),
                  main[1], sum(r[1] for r in rest), main[2], len(tree), round(trace_bytes / 2**20, 2),
                  round(anon, 1), round(file, 1))  # fmt: skip


# --- analysis --------------------------------------------------------------------------------------------


def growth(samples: list[Sample], warmup_s: float, until_s: float) -> dict:
    """Slope (MB/h) and extrapolated 8-hour growth of the total RSS between the warm-up and ``until_s`` (the
    shutdown is left out), and descriptor drift."""
    kept = [s for s in samples if warmup_s <= s.t_s <= until_s] or samples
    t_h = np.array([s.t_s / 3600 for s in kept])
    total = np.array([s.rss_main_mb + s.rss_children_mb for s in kept])
    main = np.array([s.rss_main_mb for s in kept])
    slope, se = _fit(t_h, total)
    quarter = max(1, len(kept) // 4)
    fds = [s.fds_main + s.fds_children for s in kept]
    return {
        "samples_used": len(kept),
        "hours_measured": round(float(t_h[-1] - t_h[0]), 3),
        "rss_total_start_mb": round(float(total[0]), 1),
        "rss_total_end_mb": round(float(total[-1]), 1),
        "rss_total_max_mb": round(float(total.max()), 1),
        "rss_median_first_quarter_mb": round(float(np.median(total[:quarter])), 1),
        "rss_median_last_quarter_mb": round(float(np.median(total[-quarter:])), 1),
        "rss_slope_mb_per_h": round(slope, 2),
        "rss_slope_se_mb_per_h": round(se, 2),  # standard error of the slope (RSS swings by tens of MB)
        "rss_main_slope_mb_per_h": round(_fit(t_h, main)[0], 2),
        "rss_anon_main_slope_mb_per_h": round(_fit(t_h, np.array([s.rss_anon_main_mb for s in kept]))[0], 2),
        "growth_8h_extrapolated_mb": round(slope * SHIFT_H, 1),
        "fds_start": fds[0],
        "fds_end": fds[-1],
        "fds_max": max(fds),
        "threads_start": kept[0].threads_main,
        "threads_end": kept[-1].threads_main,
        "trace_end_mb": kept[-1].trace_mb,
    }


def _fit(t_h: np.ndarray, mb: np.ndarray) -> tuple[float, float]:
    """Least-squares slope (MB/h) and its standard error."""
    if len(t_h) < 3:
        return float("nan"), float("nan")
    slope, offset = np.polyfit(t_h, mb, 1)
    residual = mb - (slope * t_h + offset)
    se = np.sqrt(residual.var(ddof=2) / ((t_h - t_h.mean()) ** 2).sum())
    return float(slope), float(se)


# --- the run ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    """Start ``draem-inspect run``, sample it until it ends, return samples, its report and the growth."""
    home = Path(args.home or tempfile.mkdtemp(prefix="draem-soak-"))
    home.mkdir(parents=True, exist_ok=True)
    trace = home / "trace.sqlite"
    report = home / "report.json"
    cmd = [sys.executable, "-m", "app", "run", *(a for s in args.source for a in ("--source", s)),
           "--seconds", str(args.seconds), "--trace", str(trace), "--json", str(report), "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "DRAEM_INSPECT_HOME": str(home)}
    log = (home / "run.log").open("w")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1])
    samples: list[Sample] = []
    try:
        while proc.poll() is None:
            samples.append(sample(proc.pid, started, trace))
            if args.verbose:
                print(json.dumps(asdict(samples[-1])), flush=True)
            if args.json is not None and len(samples) % 30 == 0:  # a run cut short still leaves its samples
                args.json.write_text(json.dumps({"partial": True, "samples": [asdict(s) for s in samples]}) + "\n")
            _sleep_unless_ended(proc, args.interval)
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)  # the run writes its report on SIGTERM
        proc.wait(60)
    log.close()
    doc = {"command": cmd, "home": str(home), "exit_code": proc.returncode, "interval_s": args.interval,
           "malloc_env": {k: v for k, v in env.items() if k.startswith("MALLOC_")},  # glibc allocator settings
           "warmup_s": args.warmup, "growth": growth(samples, args.warmup, args.seconds), "samples": [asdict(s) for s in samples]}  # fmt: skip
    doc["report"] = json.loads(report.read_text()) if report.is_file() else None
    return doc


def _sleep_unless_ended(proc: subprocess.Popen, seconds: float) -> None:
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="how long the station runs (default 1 h)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the growth fit")
    parser.add_argument("--source", action="append", help="source spec; repeat (default: demo and sim)")
    parser.add_argument("--home", help="data folder of the run (default: a new temporary folder)")
    parser.add_argument("--json", type=Path, help="write samples and summary here")
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    parser.add_argument("--analyse", type=Path, metavar="JSON", help="only recompute the growth of a saved run")
    args = parser.parse_args()
    if args.analyse is not None:
        doc = json.loads(args.analyse.read_text())
        samples = [Sample(**s) for s in doc["samples"]]
        print(json.dumps(growth(samples, doc.get("warmup_s", args.warmup), args.seconds), indent=2))
        return 0
    args.source = args.source or ["demo", "sim"]
    doc = run(args)
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "samples"}, indent=2))
    return 0 if doc["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
