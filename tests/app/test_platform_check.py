"""The Linux platform-plugin check: missing system libraries are named with their apt-get line, before Qt starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli.main import main
from app.gui import platform_check
from app.gui.platform_check import (
    PlatformLibrariesMissing,
    check_platform_libraries,
    missing_libraries,
    parse_ldd,
    platform_name,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

# What ldd printed for PySide6 6.11's libqxcb.so on a Debian 12 without libxcb-icccm4 and libxcb-keysyms1.
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007fd7e6a21000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007fd7e6936000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007fd7e692e000)
\tlibxcb-keysyms.so.1 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fd7e4c1e000)
\tlibxcb-icccm.so.4 => not found
\t/lib64/ld-linux-x86-64.so.2 (0x00007fd7e6a23000)
"""


def test_parse_ldd_lists_each_missing_library_once() -> None:
    assert parse_ldd(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_the_message_names_the_libraries_and_the_install_line() -> None:
    text = str(PlatformLibrariesMissing("xcb", ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]))
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in text
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1" in text


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "xcb"), ({"WAYLAND_DISPLAY": "wayland-0"}, "wayland"), ({"QT_QPA_PLATFORM": "offscreen"}, "offscreen"),
     ({"QT_QPA_PLATFORM": "xcb;wayland", "WAYLAND_DISPLAY": "w"}, "xcb"), ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "vnc")],
)  # fmt: skip
def test_platform_is_the_one_qt_loads_first(env: dict, expected: str) -> None:
    assert platform_name(env) == expected


@pytest.fixture()
def plugin_missing_a_library(tmp_path: Path) -> Path:
    """A real shared library that needs ``libdraem-gone.so.1``, which is then deleted: what a bare machine is
    to Qt's xcb plugin."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the probe library")
    (tmp_path / "gone.c").write_text("int gone(void) { return 1; }\n")
    (tmp_path / "probe.c").write_text("int gone(void);\nint probe(void) { return gone(); }\n")
    gone = tmp_path / "libdraem-gone.so.1"
    subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname,libdraem-gone.so.1", "-o", str(gone), str(tmp_path / "gone.c")],
                   check=True)  # fmt: skip
    probe = tmp_path / "libqxcb.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(probe), str(tmp_path / "probe.c"), str(gone)], check=True)
    gone.unlink()
    return probe


def test_a_missing_library_of_a_real_plugin_is_found(plugin_missing_a_library: Path) -> None:
    assert missing_libraries(plugin_missing_a_library) == ["libdraem-gone.so.1"]


def test_the_installed_qt_plugins_load_here() -> None:
    """The platform the tests use has all its libraries (CI installs them): the check does not cry wolf."""
    assert missing_libraries(platform_check.plugin_path("offscreen")) == []
    check_platform_libraries({"QT_QPA_PLATFORM": "offscreen"})


def test_gui_command_names_the_missing_libraries_instead_of_aborting(
    plugin_missing_a_library: Path, monkeypatch, tmp_path: Path, capsys, restore_logging
) -> None:
    """With Qt's abort, this test process would die; the check must run before any QApplication."""
    monkeypatch.setattr(platform_check, "plugin_path", lambda _platform: plugin_missing_a_library)
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":97")
    code = main(["--data-dir", str(tmp_path / "data"), "gui", "--source", "demo"])
    err = capsys.readouterr().err
    assert code == 2
    named = [line for line in err.splitlines() if "libdraem-gone.so.1" in line]
    assert len(named) == 1 and named[0].startswith("draem-inspect gui: error:") and "sudo apt-get install" in named[0]
    assert "libdraem-gone.so.1" in (tmp_path / "data" / "logs" / "draem-inspect.log").read_text()
