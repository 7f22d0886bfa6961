"""``draem-inspect diagnostics``: one zip for a support person (app/diagnostics.py says what is in it)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``diagnostics``."""
    p = sub.add_parser(
        "diagnostics",
        help="write a zip for support: logs, settings (secrets removed), self-test, versions, cameras, "
        "registry, last inspections",
        description="Collect what a support person needs into one zip file. Passwords, password hashes and "
        "tokens in the settings are removed. A part that cannot be collected is named in manifest.json.",
    )
    p.add_argument("--out", type=Path, required=True, metavar="FILE.zip", help="zip file to write")
    p.add_argument("--trace-rows", type=_count(0), default=1000, metavar="N", help="last inspections included (1000)")
    p.add_argument("--frames", type=_count(1), default=10, metavar="N", help="inspections per source of the self-test")
    p.add_argument(
        "--no-self-test", action="store_true",
        help="include the last self-test report of the data folder instead of running one (e.g. while the "
        "station is running)",
    )  # fmt: skip
    p.set_defaults(func=cmd_diagnostics)


def cmd_diagnostics(args: argparse.Namespace) -> int:
    """Collect, write the zip, and name the parts that could not be collected."""
    from app.diagnostics import DiagnosticsConfig, collect, read_settings
    from app.paths import data_home

    try:
        settings = read_settings()
    except ImportError as exc:  # a build without Qt: everything else still helps
        settings = {"_error": f"cannot read the settings: {exc}"}
    config = DiagnosticsConfig(trace_rows=args.trace_rows, self_test=not args.no_self_test,
                               self_test_frames=args.frames)  # fmt: skip
    manifest = collect(args.out, data_home(), settings, config, progress=lambda part: print(f"  {part}"))
    for name, reason in manifest["errors"].items():
        print(f"not included: {name}: {reason}")
    print(f"wrote {args.out} ({len(manifest['files'])} files)")
    return 0


def _count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            msg = f"{value} is less than {minimum}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse
