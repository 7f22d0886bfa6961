"""`draem-inspect self-test`: the installation check that also runs inside the packaged app."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("self-test", help="check this installation end to end and write a JSON report")
    p.add_argument("--report", type=Path, help="JSON report path (default: <data folder>/self-test.json)")
    p.add_argument("--model", type=Path, help="model to test (default: the bundled demo model)")
    p.add_argument("--frames", type=int, default=50, help="inspections of the demo line (default 50)")
    p.add_argument("--timeout", type=float, default=180.0, help="seconds allowed per source")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_self_test)


def cmd_self_test(args: argparse.Namespace) -> int:
    from app.paths import data_home
    from app.selftest import SelfTestFailed, run_self_test

    report_path = args.report or data_home() / "self-test.json"
    report = run_self_test(report_path, args.model, args.frames, args.timeout, args.device)
    print(f"report {report_path}")
    if report.failed:
        reasons = "; ".join(f"{n}: {report.checks[n]['error']}" for n in report.failed)
        raise SelfTestFailed(f"self-test failed ({reasons})")
    print("self-test passed")
    return 0
