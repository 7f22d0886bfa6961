"""Application commands: ``gui`` (the live inspection window, the default) and ``trace-export``.

PySide6 is imported only inside the ``gui`` handler, so the other commands stay light.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.sources.factory import SPEC_HELP


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``gui`` and ``trace-export``."""
    p = sub.add_parser(
        "gui",
        help="open the live inspection window (what draem-inspect does without a command)",
        description="Open the inspection window. Without options it reopens the last source and model; "
        "the first time it shows the demo line judged by the bundled model.",
    )
    p.add_argument("--source", action="append", metavar="SPEC",
                   help=f"{SPEC_HELP}; repeat for a station of several cameras (up to 4) (default: the last station "
                   "used, else demo)")  # fmt: skip
    p.add_argument(
        "--model", type=Path, metavar="PATH", help="model file (default: last used, else the demo model)"
    )
    p.add_argument(
        "--operator", action="store_true", help="start in operator mode (always the case; kept for scripts)"
    )
    p.add_argument("--fullscreen", action="store_true", help="start full screen")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser(
        "trace-export",
        help="export the inspection trace of a time range as CSV",
        description="Write every inspection between --from and --to (ISO 8601; local time unless a zone "
        "is given, e.g. 2024-05-01T06:00 or 2024-05-01T06:00Z) to a CSV file.",
    )
    p.add_argument(
        "--from", dest="start", type=_time, metavar="TIME", help="start (inclusive); default: the beginning"
    )
    p.add_argument("--to", dest="end", type=_time, metavar="TIME", help="end (exclusive); default: now")
    p.add_argument("--out", type=Path, required=True, help="CSV file to write")
    p.add_argument("--db", type=Path, help="trace database (default: the one in the data folder)")
    p.set_defaults(func=cmd_trace_export)


def cmd_gui(args: argparse.Namespace) -> int:
    """Run the inspection window until it is closed."""
    from app.gui.app import run_gui

    return run_gui(args)


def cmd_trace_export(args: argparse.Namespace) -> int:
    """Export the rows of the time range and say how many."""
    from app.trace import default_trace_path, export_csv

    db = args.db or default_trace_path()
    if args.start is not None and args.end is not None and args.end <= args.start:
        from app.trace import TraceError

        raise TraceError(db, "--to must be later than --from")
    count = export_csv(db, args.out, args.start, args.end)
    print(f"wrote {count} inspections to {args.out}")
    return 0


def _time(text: str) -> float:
    from app.trace import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
