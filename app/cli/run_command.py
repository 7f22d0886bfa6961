"""``draem-inspect run``: the inspection station without a window (a plant service, soak tests, benchmarks).

Runs the same :class:`~app.station.Station` as the window. SIGTERM and SIGINT end it cleanly: sources
closed, the trace flushed, the JSON report written.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from app.cli import plant_options
from app.cli.backend_args import add_backend_arguments, backend_options, describe_backend
from app.sources.factory import SPEC_HELP


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run``."""
    p = sub.add_parser(
        "run",
        help="run the inspection station without a window",
        description="Judge frames of one or more sources with the same station the window runs, and print a JSON "
        "report (OK/NG/NOT_JUDGED counts, rate, latency, per camera). Without --frames or --seconds it runs until "
        "SIGTERM/SIGINT.",
    )
    p.add_argument("--source", action="append", metavar="SPEC", help=f"{SPEC_HELP}; repeat for several cameras "
                   "(default: demo)")  # fmt: skip
    p.add_argument("--model", action="append", type=Path, metavar="PATH",
                   help="model file; one applies to every source, or give one per source (default: the registry's "
                   "active model, else the bundled demo model)")  # fmt: skip
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--frames", type=_positive_int, metavar="N",
                      help="stop after N verdicts per camera (with --trigger: issue N triggers, wait for their verdicts)")  # fmt: skip
    stop.add_argument("--seconds", type=_positive_float, metavar="S", help="stop after S seconds")
    p.add_argument("--trigger", choices=("software", "hardware"),
                   help="judge one part per trigger: software (issued at --rate) or the cameras' trigger input")  # fmt: skip
    p.add_argument("--rate", type=_positive_float, default=2.0, metavar="HZ", help="software triggers per second (default 2)")
    p.add_argument("--queue", type=_positive_int, default=8, metavar="N",
                   help="triggered: frames waiting per camera before a trigger overruns (NOT_JUDGED) (default 8)")  # fmt: skip
    p.add_argument("--trace", type=Path, metavar="DB", help="trace database (default: the one in the data folder)")
    p.add_argument("--keep-days", type=_non_negative_float, metavar="D",
                   help="delete trace records older than D days (default 0: keep them regardless of age)")  # fmt: skip
    p.add_argument("--max-gb", type=_non_negative_float, metavar="G",
                   help="keep the trace database below G GB by deleting the oldest records (default 20; 0: no limit)")  # fmt: skip
    p.add_argument("--json", type=Path, metavar="REPORT", help="also write the JSON report to this file")
    p.add_argument("--device", default="auto", help="where the models run: auto, cpu or cuda (default auto)")
    add_backend_arguments(p)
    plant_options.add_arguments(p)
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Open the station, run the plan, print (and write) the report."""
    from app.cli.global_options import log_level
    from app.logs import setup_logging
    from app.paths import data_home
    from app.station.headless import RunPlan, open_station, run_station
    from app.station.modes import AcquisitionMode
    from app.station.station import StationConfig
    from app.trace import TraceConfig
    from draem_core.backends.spec import BackendRequest
    from draem_core.imageio import write_bytes_atomic

    backend = str(BackendRequest.parse(args.backend, args.precision))  # a wrong choice: one line, nothing started
    setup_logging(data_home(), log_level(args), console=True)  # a service's log file, with the version
    specs = args.source or ["demo"]
    recipe = plant_options.start_recipe(args, data_home())
    models = [] if recipe else args.model or [_default_model()]
    mode = AcquisitionMode(args.trigger) if args.trigger else AcquisitionMode.FREE_RUN
    retention = {k: v for k, v in (("keep_days", args.keep_days), ("max_gb", args.max_gb)) if v is not None}
    config = StationConfig(device=args.device, queue_size=args.queue, trace_path=args.trace,
                           trace=TraceConfig(**retention), backend=backend,
                           backend_options=backend_options(args))  # fmt: skip
    stop = threading.Event()
    _stop_on_signals(stop)
    log = lambda line: print(f"draem-inspect run: {line}", file=sys.stderr, flush=True)  # noqa: E731
    headless = open_station(specs, models, data_home(), config=config, log=log)
    try:
        if backend != "torch" and headless.station.inspector is not None:
            log(f"backend {describe_backend(headless.station.inspector)}")
        plant_options.attach(headless, args, data_home(), recipe, log)
        plan = RunPlan(frames=args.frames, seconds=args.seconds, mode=mode, rate_hz=args.rate)
        doc = run_station(headless, plan, stop)
    finally:
        headless.close()
    text = json.dumps(doc, indent=2)
    if args.json is not None:
        write_bytes_atomic(args.json, (text + "\n").encode())
    print(text)
    return 0


def _default_model() -> Path:
    """As the window chooses without a last-used model: the registry's active version, else the bundled one."""
    from app.gui.startup import LaunchOptions, model_choice
    from app.paths import data_home
    from draem_core.errors import ModelFileError

    choice = model_choice(LaunchOptions(), None, data_home() / "models")
    if choice.path is None:
        why = choice.problem or "no model given, no active registry version and no bundled demo model"
        raise ModelFileError("(none)", why)
    return choice.path


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(*_args) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value
