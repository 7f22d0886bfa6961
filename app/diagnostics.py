"""Diagnostics: one zip file with what a support person asks for first.

``collect(out, data_dir, settings, config)`` writes (atomically) a zip holding:

- ``system.json`` — versions (draem-inspect, Python, torch, Qt, harvesters, genicam, OpenCV, NumPy), platform,
  frozen or not, the folders in use and the environment variables that steer the app;
- ``settings.json`` — the window's settings, with passwords, password hashes, tokens and secrets removed;
- ``self-test.json`` — a fresh self-test report, or the last one saved in the data folder;
- ``cameras.json`` — the GenTL producers and every camera they list;
- ``registry.json`` — the model registry (versions, active one, unreadable records);
- ``trace-last.csv`` — the last inspections of the trace;
- ``logs/`` — the log files;
- ``manifest.json`` — what is in the zip, and each part that could not be collected with the reason.

One part that fails never stops the others: its error goes into the manifest. Qt-free; the window passes its
settings as a dict (:func:`read_settings`).
"""

from __future__ import annotations

import collections
import csv
import io
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from draem_core.imageio import write_bytes_atomic
from draem_core.version import __version__

REDACTED = "<removed>"
# A settings key is secret when one of its parts names a password, hash, token, secret, credential or key pair.
SECRET_KEY = re.compile(r"(pass(word|wd)?|secret|token|hash|credential|api.?key|private)", re.IGNORECASE)
SECRET_VALUE = re.compile(r"^(scrypt|pbkdf2|argon2|bcrypt)\$")  # password hashes wherever they are stored
ENV_VARS = ("DRAEM_INSPECT_HOME", "GENICAM_GENTL64_PATH", "GENICAM_GENTL32_PATH", "QT_QPA_PLATFORM",
            "WAYLAND_DISPLAY", "DISPLAY", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "CUDA_VISIBLE_DEVICES",
            "LANG")  # fmt: skip
TIME_WINDOWS_S = (3600.0, 86400.0, 7 * 86400.0, None)  # trace read back this far until enough rows are found


@dataclass(frozen=True)
class DiagnosticsConfig:
    """What goes into the zip."""

    trace_rows: int = 1000  # last inspections of the trace included
    self_test: bool = True  # run a fresh self-test; False: include the last report of the data folder
    self_test_frames: int = 10  # inspections per source of that self-test
    self_test_timeout_s: float = 120.0  # per source
    discovery_timeout_s: float = 30.0  # camera search


def redact(settings: Mapping[str, object]) -> dict[str, object]:
    """The settings with every secret value replaced by :data:`REDACTED`."""
    out: dict[str, object] = {}
    for key, value in settings.items():
        secret = any(SECRET_KEY.search(part) for part in key.split("/"))
        out[key] = REDACTED if secret or SECRET_VALUE.match(str(value)) else value
    return out


def read_settings(store=None) -> dict[str, object]:
    """The entries of a QSettings store (default: the application's) as JSON-safe values, secrets removed."""
    from PySide6.QtCore import QByteArray, QSettings

    from app.paths import APP_NAME, ORG_NAME

    store = store if store is not None else QSettings(ORG_NAME, APP_NAME)
    values: dict[str, object] = {"_file": store.fileName()}
    for key in store.allKeys():
        value = store.value(key)
        if isinstance(value, QByteArray):
            value = f"<{value.size()} bytes>"  # window geometry and dock state
        elif not isinstance(value, (str, int, float, bool, type(None))):
            value = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
        values[key] = value
    return redact(values)


DISTRIBUTIONS = ("draem-inspect", "torch", "numpy", "opencv-python-headless", "PySide6-Essentials", "shiboken6",
                 "pyqtgraph", "harvesters", "genicam", "safetensors", "matplotlib")  # versions by package metadata


def system_info(data_dir: Path) -> dict:
    """Versions, platform, folders and the environment variables that steer the app."""
    from app.logs import log_dir
    from app.paths import resources_dir
    from app.selftest import versions

    info = {"versions": versions(), "distributions": distribution_versions(), "executable": sys.executable,
            "argv": sys.argv, "cpu_count": os.cpu_count(), "data_dir": str(data_dir),
            "resources_dir": str(resources_dir()), "log_dir": str(log_dir(data_dir)),
            "environment": {k: os.environ[k] for k in ENV_VARS if k in os.environ}}  # fmt: skip
    try:
        from PySide6.QtCore import qVersion

        info["versions"]["qt"] = qVersion()  # the Qt libraries actually loaded
    except ImportError as exc:
        info["versions"]["qt_error"] = str(exc)
    return info


def distribution_versions() -> dict[str, str]:
    """The installed version of each of :data:`DISTRIBUTIONS` (the frozen app carries their metadata too)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in DISTRIBUTIONS:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def camera_list(timeout_s: float) -> dict:
    """The GenTL producers and every camera they list (searched in a child process)."""
    from app.camera.discovery import discover

    found = discover(timeout_s=timeout_s)
    return {"producers": [asdict(p) for p in found.producers], "cameras": [asdict(c) for c in found.cameras],
            "problems": list(found.problems)}  # fmt: skip


def registry_doc(data_dir: Path) -> dict:
    """The model registry of the data folder: every version, the active one, unreadable records."""
    from app.registry import ModelRegistry

    registry = ModelRegistry(data_dir / "models")
    versions = [v.to_dict() for v in registry.versions()]
    return {"root": str(registry.root), "active": registry.active_id(), "versions": versions,
            "problems": [[str(p), why] for p, why in registry.problems]}  # fmt: skip


def last_trace_rows(db: Path, n: int) -> str:
    """The last ``n`` rows of a trace database as CSV (header: the trace's columns).

    Reads back an hour, a day, a week, then everything, until ``n`` rows are found (the trace is indexed by
    time; a year-old trace is never read in full for the last thousand rows).
    """
    from app.trace import COLUMNS, read_rows

    rows: collections.deque = collections.deque(maxlen=n)
    for window in TIME_WINDOWS_S:
        start = time.time() - window if window is not None else None
        rows = collections.deque(read_rows(db, start), maxlen=n)
        if len(rows) >= n:
            break
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return text.getvalue()


def self_test_report(data_dir: Path, config: DiagnosticsConfig, log: Callable[[str], None]) -> bytes:
    """A fresh self-test report (its failures are part of the report), or the last one in the data folder."""
    if not config.self_test:
        last = data_dir / "self-test.json"
        if not last.is_file():
            msg = f"no self-test report at {last} (run draem-inspect self-test)"
            raise FileNotFoundError(msg)
        return last.read_bytes()
    from app.selftest import run_self_test

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "self-test.json"
        run_self_test(report, None, config.self_test_frames, config.self_test_timeout_s, "auto", log)
        return report.read_bytes()


def collect(
    out: Path, data_dir: Path, settings: Mapping[str, object] | None, config: DiagnosticsConfig | None = None,
    progress: Callable[[str], None] = lambda _part: None,
) -> dict:  # fmt: skip
    """Write the diagnostics zip to ``out`` (atomically); returns the manifest.

    Args:
        out: The zip file to write.
        data_dir: The data folder (logs, trace, registry, last self-test report).
        settings: The window's settings (:func:`read_settings`); None: not included.
        config: What to include.
        progress: Called with the name of each part before it is collected.
    """
    config = config or DiagnosticsConfig()
    data_dir = Path(data_dir)
    files: dict[str, bytes] = {}
    errors: dict[str, str] = {}

    def part(name: str, make: Callable[[], bytes | str | dict]) -> None:
        progress(name)
        try:
            value = make()
        except Exception as exc:  # noqa: BLE001 - one missing part never stops the others
            errors[name] = f"{type(exc).__name__}: {exc}"
            return
        if isinstance(value, dict):
            value = json.dumps(value, indent=2, default=str) + "\n"
        files[name] = value.encode() if isinstance(value, str) else value

    part("system.json", lambda: system_info(data_dir))
    if settings is not None:
        part("settings.json", lambda: redact(settings))
    part("self-test.json", lambda: self_test_report(data_dir, config, lambda line: progress(f"self-test {line}")))
    part("cameras.json", lambda: camera_list(config.discovery_timeout_s))
    part("registry.json", lambda: registry_doc(data_dir))
    part("trace-last.csv", lambda: last_trace_rows(data_dir / "trace.sqlite", config.trace_rows))
    from app.logs import log_dir

    for log_file in sorted(log_dir(data_dir).glob("*.log*")):
        part(f"logs/{log_file.name}", log_file.read_bytes)
    manifest = {"draem_inspect": __version__, "created_unix": time.time(), "data_dir": str(data_dir),
                "files": sorted(files), "errors": errors, "config": asdict(config)}  # fmt: skip
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    write_zip_atomic(Path(out), files)
    return manifest


def write_zip_atomic(out: Path, files: Mapping[str, bytes]) -> None:
    """Zip ``files`` (name -> content) in memory, then write the zip atomically (temporary file, rename)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    write_bytes_atomic(out, buffer.getvalue())
