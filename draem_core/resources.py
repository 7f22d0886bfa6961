"""Where the bundled ``resources/`` folder is (demo model, CC0 textures, styles, icons).

One rule for every way the software is installed:

- an installed wheel carries the folder inside this package, as ``draem_core/resources/``
  (``[tool.hatch.build.targets.wheel.force-include]`` in pyproject.toml);
- a source checkout, an editable install and the frozen app have it beside the packages: ``<root>/resources``
  next to ``<root>/draem_core`` (the PyInstaller spec puts it at ``_MEIPASS/resources``, where the frozen
  ``draem_core`` package lives too).

It lives in ``draem_core`` because the model library's default anomaly textures are part of it and the library
must not import the application; ``app.paths.resources_dir`` is this function.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # the draem_core package folder
MARKER = Path("models") / "demo.safetensors"  # a file every complete resources folder has


def candidates(package_dir: Path = PACKAGE_DIR) -> tuple[Path, Path]:
    """The places the folder may be, in the order they are tried: inside the package, beside it."""
    return package_dir / "resources", package_dir.parent / "resources"


def resources_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The first candidate that holds a complete resources folder; the checkout location when none does
    (so that error messages name the place a source install expects)."""
    inside, beside = candidates(package_dir)
    for folder in (inside, beside):
        if (folder / MARKER).is_file():
            return folder
    return beside
