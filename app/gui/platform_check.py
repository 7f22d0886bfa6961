"""Before the first QApplication on Linux: can Qt's platform plugin load? If not, say what to install.

A Debian/Ubuntu machine without a desktop's X libraries makes Qt abort with "could not load the Qt platform
plugin xcb" and no hint which library is missing. Here the plugin Qt is going to load (``xcb`` unless
``QT_QPA_PLATFORM`` names another, or the session is Wayland) is loaded before Qt starts; when that fails, ``ldd``
(part of every glibc system) lists every library it lacks, and they are named with the ``apt-get install`` line
for them. This module imports no Qt binding module: it must run before the first QApplication.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

from draem_core.errors import DraemError

# Shared libraries Qt's Linux platform plugins (and the Qt libraries under them) load, by Debian/Ubuntu package.
# Found with `ldd` on PySide6's libqxcb.so / libqoffscreen.so / libqwayland.so and `dpkg -S` (Debian 12).
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}


class PlatformLibrariesMissing(DraemError):
    """Qt's platform plugin cannot load: system libraries are missing (named, with the install line)."""

    def __init__(self, platform: str, missing: list[str]) -> None:
        self.platform = platform
        self.missing = missing
        packages = sorted({DEBIAN_PACKAGES.get(lib, f"<the package with {lib}>") for lib in missing})
        super().__init__(
            f"cannot open the window: Qt's {platform} platform plugin needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; on Debian/Ubuntu: "
            f"sudo apt-get install {' '.join(packages)} (README.md, 'Linux: system packages')"
        )


def platform_name(environ: dict | os._Environ = os.environ) -> str:
    """The platform plugin Qt loads first: the first of ``QT_QPA_PLATFORM``, else wayland in a Wayland
    session, else xcb."""
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    return "wayland" if environ.get("WAYLAND_DISPLAY") else "xcb"


def plugin_path(platform: str) -> Path:
    """The shared library of a platform plugin in the PySide6 in use (installed or frozen)."""
    import PySide6  # the package only: no Qt library is loaded by this import

    return Path(PySide6.__file__).resolve().parent / "Qt" / "plugins" / "platforms" / f"libq{platform}.so"


def missing_libraries(library: Path) -> list[str]:
    """The shared libraries ``library`` needs (directly or through others) that the loader cannot find.

    Empty when all are found, or when it cannot be told (no ``ldd``): Qt then tries as usual. The usual case costs
    nothing extra: loading the plugin succeeds (Qt would load it a moment later anyway), and only when it fails
    does ``ldd`` list everything that is missing.
    """
    if not library.is_file():
        return []
    try:
        ctypes.CDLL(str(library))
        return []
    except OSError:
        pass
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(library)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd(out)


def parse_ldd(text: str) -> list[str]:
    """The libraries ``ldd`` reports as "not found", in order, once each."""
    found: list[str] = []
    for line in text.splitlines():
        name, _, where = line.strip().partition("=>")
        if where.strip() == "not found" and name.strip() not in found:
            found.append(name.strip())
    return found


def check_platform_libraries(environ: dict | os._Environ = os.environ) -> None:
    """On Linux, raise :class:`PlatformLibrariesMissing` when the platform plugin Qt will load cannot load.

    Raises:
        PlatformLibrariesMissing: names the missing libraries and the apt-get line that installs them.
    """
    if not sys.platform.startswith("linux"):
        return
    platform = platform_name(environ)
    missing = missing_libraries(plugin_path(platform))
    if missing:
        raise PlatformLibrariesMissing(platform, missing)
