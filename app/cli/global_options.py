"""Options every command accepts: ``--version``, ``--data-dir`` and ``--log-level``.

They may stand before the command (``draem-inspect --data-dir D gui``) or after it (``draem-inspect gui
--data-dir D``). ``--data-dir`` is handed on through the ``DRAEM_INSPECT_HOME`` variable, so every part of the
program (and the camera process it starts) uses the same folder.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from app.logs import LEVELS, console_handler
from app.paths import HOME_ENV
from draem_core.version import __version__

DEFAULT_LEVEL = "INFO"  # of the log file when --log-level is not given
FILE_LOG_COMMANDS = ("gui", "run")  # commands that write the log file (app.logs.setup_logging) themselves


def add_global_options(parser: argparse.ArgumentParser, commands: argparse._SubParsersAction) -> None:
    """Add the global options to ``parser`` and, without defaults of their own, to every command."""
    parser.add_argument("--version", action="version", version=f"draem-inspect {__version__}")
    for target, default in ((parser, None), *((p, argparse.SUPPRESS) for p in _command_parsers(commands))):
        _add(target, "--data-dir", type=Path, metavar="DIR", default=default,
             help=f"data folder (trace, NG images, models, logs); default: ${HOME_ENV}, the machine-wide "
             "folder when it exists, else the per-user one (docs/packaging.md)")  # fmt: skip
        _add(target, "--log-level", type=str.upper, choices=LEVELS, metavar="LEVEL", default=default,
             help=f"{', '.join(LEVELS)}: of the log file of the window and `run` (default {DEFAULT_LEVEL}); "
             "other commands then log to stderr at that level")  # fmt: skip


def _command_parsers(commands: argparse._SubParsersAction) -> list[argparse.ArgumentParser]:
    """Every command's parser, the sub-commands' too (``registry list``)."""
    found = []
    for parser in commands.choices.values():
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += _command_parsers(action)
    return found


def _add(parser: argparse.ArgumentParser, flag: str, **kwargs) -> None:
    if flag not in parser._option_string_actions:  # a command that defines the option itself keeps its own
        parser.add_argument(flag, **kwargs)


def log_level(args: argparse.Namespace) -> str:
    """The level chosen with ``--log-level``, else :data:`DEFAULT_LEVEL`."""
    return getattr(args, "log_level", None) or DEFAULT_LEVEL


def apply_global_options(args: argparse.Namespace) -> None:
    """Make ``--data-dir`` the data folder of this process and its children; a command that does not write the
    log file gets an explicit ``--log-level`` on stderr."""
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        os.environ[HOME_ENV] = str(Path(data_dir).expanduser().resolve())
    if getattr(args, "log_level", None) and args.command not in FILE_LOG_COMMANDS:
        root = logging.getLogger()
        if not root.handlers:
            root.addHandler(console_handler())
        root.setLevel(args.log_level)
