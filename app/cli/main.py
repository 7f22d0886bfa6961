"""`draem-inspect` entry point: no arguments opens the GUI; sub-commands script everything else.

Each command module exposes ``register(subparsers)``; a command's handler takes the parsed arguments and
returns an exit code. Expected failures (bad input, bad model file, camera errors) end as one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "app.cli.core_commands",
    "app.cli.camera_commands",
    "app.cli.demo_commands",
    "app.cli.app_commands",
    "app.cli.registry_commands",
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
    return parser


def main(argv: list[str] | None = None) -> int:
    import torch  # noqa: F401  (torch before Qt: WinError 1114 otherwise in frozen Windows builds)

    from draem_core.errors import DraemError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *(argv or [])]) if "gui" in parser._subparsers._group_actions[0].choices else args  # type: ignore[union-attr]
        if args.command is None:
            parser.print_help()
            return 0
    try:
        return int(args.func(args) or 0)
    except DraemError as exc:
        print(f"draem-inspect {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"draem-inspect {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
