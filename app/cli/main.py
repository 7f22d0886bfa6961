"""`draem-inspect` entry point: no arguments opens the GUI; sub-commands script everything else.

Each command module exposes ``register(subparsers)``; a command's handler takes the parsed arguments and
returns an exit code. Expected failures (bad input, bad model file, camera errors) end as one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from app.cli.global_options import add_global_options, apply_global_options
from app.logs import FILE_ONLY

# Before torch loads its OpenMP runtime: idle worker threads sleep instead of spinning. On a PC that also runs
# the GUI, the camera process and inference, spinning threads cost up to 3x (measured: a training step took
# 12.2 s with spinning and 4.1 s passive on a loaded 2-core machine; see docs/benchmarks.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

COMMAND_MODULES = (
    "app.cli.core_commands",
    "app.cli.bench_commands",
    "app.cli.camera_commands",
    "app.cli.demo_commands",
    "app.cli.app_commands",
    "app.cli.run_command",
    "app.cli.package_commands",
    "app.cli.registry_commands",
    "app.cli.access_commands",
    "app.cli.support_commands",
    "app.cli.recipe_commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="draem-inspect",
        description="Visual inspection with DRAEM. Without a command, the inspection window opens.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside an existing module is a real error
                raise
            continue
        module.register(sub)
    if "gui" in sub.choices:
        parser.has_gui = True  # type: ignore[attr-defined]
    add_global_options(parser, sub)  # --version, --data-dir, --log-level (app/cli/global_options.py)
    return parser


def main(argv: list[str] | None = None) -> int:
    import multiprocessing

    import torch  # noqa: F401  (torch before Qt: WinError 1114 otherwise in frozen Windows builds)

    from app.camera.shm_ring import remove_stale_rings
    from draem_core.errors import DraemError

    multiprocessing.freeze_support()  # frozen app: lets the camera acquisition process start (spawn)
    remove_stale_rings()  # frame rings left in shared memory by an earlier run that was killed
    _printable_output()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the inspection window, when the GUI is installed
        if not hasattr(parser, "has_gui"):
            parser.print_help()
            return 0
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "gui"])
    apply_global_options(args)
    try:
        return int(args.func(args) or 0)
    except DraemError as exc:
        if logging.getLogger().handlers:  # a log file or --log-level is set up (else Python's fallback would echo)
            logging.getLogger("draem_inspect").error("%s: %s", args.command, exc, extra=FILE_ONLY)
        print(f"draem-inspect {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"draem-inspect {args.command}: interrupted", file=sys.stderr)
        return 130


def _printable_output() -> None:
    """A file name that is not valid UTF-8 (kept by Python as surrogate escapes) prints escaped instead of
    ending the command with UnicodeEncodeError after its work is done."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


if __name__ == "__main__":
    sys.exit(main())
