"""The ``draem-inspect`` command's entry point: it runs *our* ``app`` package, whatever else is installed.

``app`` is a generic top-level name that other distributions use too. So the wheel installs no top-level ``app``:
the application package lives inside this one (``draem_inspect/app``), where no other distribution's files can
land on ours, and ours cannot hide theirs from other programs. This launcher puts that folder first on
``sys.path`` for this process only (child processes started with multiprocessing inherit it) and then imports
``app``. In a checkout, an editable install or the frozen app, ``app`` sits beside this package, and the launcher
puts that folder first instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def app_root() -> Path:
    """The folder holding our ``app`` package: inside this package (wheel), else beside it (checkout)."""
    return _HERE if (_HERE / "app" / "cli" / "main.py").is_file() else _HERE.parent


def main(argv: list[str] | None = None) -> int:
    """Run ``draem-inspect`` with our ``app`` package first on the import path."""
    root = str(app_root())
    if sys.path[:1] != [root]:
        sys.path.insert(0, root)
    loaded = sys.modules.get("app")
    if loaded is not None and not str(getattr(loaded, "__file__", "") or "").startswith(root):
        for name in [n for n in sys.modules if n == "app" or n.startswith("app.")]:
            del sys.modules[name]  # another distribution's ``app`` imported before us: not ours to run
    from app.cli.main import main as run

    return run(argv)
