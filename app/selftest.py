"""``draem-inspect self-test``: proves an installation (source or frozen) works end to end.

Each layer is checked with what fits it, through a real :class:`~app.station.Station` with a real trace and
NG image store in a temporary folder:

* ``model`` — the bundled (or given) model loads and says what it inspects;
* ``demo_line`` — the demo line judged by that model: every frame gets OK or NG, the trace holds every
  verdict, rejected parts' images are stored; a frame the model refuses fails the check at once, with why;
* ``simulated_camera`` — the simulated GenICam camera: frames acquired in the camera process and decoded;
  the camera → inspection path with a small whole-frame model made on the fly (verdicts); and the
  configured model on the simulator's frames — a model trained on another frame size must refuse them as
  NOT_JUDGED (never OK), which is the expected outcome and is reported with its reason;
* ``genicam_producers`` — the GenTL producers and cameras found.

Nothing waits for what cannot happen: every frame the station takes ends in a record at once.
"""

from __future__ import annotations

import json
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from draem_core.errors import DraemError
from draem_core.imageio import write_bytes_atomic
from draem_core.verdict import ALIGNMENT, NG, NOT_JUDGED, OK, REGION

SIM_FRAMES_MAX = 50  # the simulator delivers 20 frames/s: enough to prove the path without minutes of waiting


class SelfTestFailed(DraemError):
    """A check of the self-test failed; the message names the check and the reason."""


@dataclass
class SelfTestReport:
    checks: dict = field(default_factory=dict)  # name -> {"ok": bool, "seconds": float, ...details}
    failed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"ok": not self.failed, "failed": self.failed, "checks": self.checks}


def versions() -> dict:
    import cv2
    import numpy
    import torch

    from draem_core.version import __version__

    out = {"draem_inspect": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
           "frozen": bool(getattr(sys, "frozen", False)), "torch": torch.__version__, "numpy": numpy.__version__,
           "opencv": cv2.__version__, "cuda_available": torch.cuda.is_available()}  # fmt: skip
    try:
        import pyqtgraph
        import PySide6

        out.update(pyside6=PySide6.__version__, pyqtgraph=pyqtgraph.__version__)
    except ImportError as exc:
        out["qt_error"] = str(exc)
    try:
        import harvesters

        out["harvesters"] = getattr(harvesters, "__version__", "unknown")
    except ImportError as exc:
        out["harvesters_error"] = str(exc)
    return out


def describe_model(path: Path, device: str) -> dict:
    from draem_core.inspector import Inspector

    ins = Inspector.from_file(path, device)
    return {"path": str(path), "name": ins.meta.name, "preset": ins.meta.model.preset, "device": str(ins.device),
            "threshold": ins.threshold, "region": list(ins.model_roi) if ins.model_roi else None,
            "aligned": ins.aligner is not None}  # fmt: skip


def check_demo_line(model: Path, frames: int, timeout_s: float, device: str, work: Path) -> dict:
    """The demo line through a station with ``model``: ``frames`` verdicts, all OK/NG, all in the trace."""
    from app.station.headless import open_station

    headless = open_station(["demo"], model, work, device=device, timeout_s=timeout_s, keep=frames)
    tally, t0 = headless.tally, time.monotonic()
    try:
        done = tally.wait(lambda: tally.total() >= frames or _refused(tally) is not None, timeout_s)
        elapsed = time.monotonic() - t0
        stats = headless.station.stats()
    finally:
        headless.close()
    summary = tally.summary("")  # after the station stopped: every record is in the trace too
    refused = _refused(tally)
    if refused is not None:
        raise SelfTestFailed(f"demo: frame {refused.frame_id} was NOT_JUDGED: {refused.reason}")
    if not done:
        raise SelfTestFailed(f"demo: only {tally.total()} of {frames} verdicts in {timeout_s:g} s"
                             + (f" ({headless.errors[-1]})" if headless.errors else ""))  # fmt: skip
    judged = summary["ok"] + summary["ng"] + summary["not_judged"]
    rows = _trace_rows(work / "trace.sqlite")
    if rows != judged:
        raise SelfTestFailed(f"demo: the trace holds {rows} rows for {judged} verdicts")
    ng_images = len(list((work / "ng_images").glob("*_frame.png")))
    if summary["ng"] and not ng_images:
        raise SelfTestFailed(f"demo: {summary['ng']} NG parts but no NG image was stored")
    return {"source": "demo", "inspections": judged, "verdicts": {OK: summary["ok"], NG: summary["ng"]},
            "frames_per_s": round(judged / max(elapsed, 1e-9), 2), "latency_p50_ms": summary["latency_p50_ms"],
            "inference_ms": round(stats.inference_ms, 1) if stats else None, "trace_rows": rows,
            "ng_images": ng_images, "errors": headless.errors[:5]}  # fmt: skip


def check_simulated_camera(model: Path, frames: int, timeout_s: float, device: str, work: Path) -> dict:
    """Acquisition and decoding, inspection with a whole-frame model, and ``model`` on the simulator's frames."""
    from app.station.headless import open_station

    headless = open_station(["sim"], None, work, device=device, timeout_s=timeout_s)
    try:
        acquisition = _acquire(headless.station, frames, timeout_s)
        test_model = make_test_model(work / "whole-frame-test.safetensors")
        inspection = _judge(headless, test_model, frames, timeout_s, expect_judged=True)
        configured = _judge(headless, model, max(3, frames // 5), timeout_s, expect_judged=False)
    finally:
        headless.close()
    if configured["not_judged"]:
        if not configured["reason"].startswith((REGION, ALIGNMENT)):
            raise SelfTestFailed(f"sim: {model.name} could not judge a frame: {configured['reason']}")
        configured["outcome"] = f"NOT_JUDGED as expected (never OK): {configured['reason']}"
    return {"source": "sim", "acquisition": acquisition, "inspection": inspection, "configured_model": configured,
            "inspections": inspection["verdicts"], "errors": headless.errors[:5]}  # fmt: skip


def _acquire(station, frames: int, timeout_s: float) -> dict:
    seen, t0, last = set(), time.monotonic(), None
    while len(seen) < frames:
        if time.monotonic() - t0 > timeout_s:
            raise SelfTestFailed(f"sim: only {len(seen)} of {frames} frames in {timeout_s:g} s")
        live = station.latest()
        if live is not None:
            seen.add(live.frame.frame_id)
            last = live.frame
        time.sleep(0.01)
    stats = station.stats()
    return {"frames": len(seen), "shape": list(last.image.shape), "dtype": str(last.image.dtype),
            "camera_fps": round(stats.camera_fps, 1), "camera": last.source_id}  # fmt: skip


def _judge(headless, model: Path, count: int, timeout_s: float, expect_judged: bool) -> dict:
    """Swap ``model`` in, then wait for ``count`` records; with ``expect_judged`` a NOT_JUDGED fails at once."""
    station, tally = headless.station, headless.tally
    station.load_model(model)
    headless.jobs.wait_idle(timeout_s)
    if station.model_path != model:
        raise SelfTestFailed(f"sim: model {model.name} not loaded ({headless.errors[-1] if headless.errors else '?'})")
    from app.station.headless import wait_until

    if not wait_until(lambda: station.pipeline.inspector is station.inspector, timeout_s):
        raise SelfTestFailed(f"sim: model {model.name} was not taken into use in {timeout_s:g} s")
    tally.reset(keep=count)  # from here on every record is this model's
    stop = (lambda: _refused(tally) is not None) if expect_judged else (lambda: False)
    if not tally.wait(lambda: tally.total() >= count or stop(), timeout_s):
        raise SelfTestFailed(f"sim: only {tally.total()} of {count} verdicts with {model.name} in {timeout_s:g} s")
    refused = _refused(tally)
    if expect_judged and refused is not None:
        raise SelfTestFailed(f"sim: frame {refused.frame_id} was NOT_JUDGED by the whole-frame model: {refused.reason}")
    summary = tally.summary("")
    return {"model": str(model), "verdicts": summary["ok"] + summary["ng"] + summary["not_judged"],
            "ok": summary["ok"], "ng": summary["ng"], "not_judged": summary["not_judged"],
            "reason": refused.reason if refused is not None else "", "latency_p50_ms": summary["latency_p50_ms"]}  # fmt: skip


def make_test_model(path: Path) -> Path:
    """An untrained micro model that inspects whole frames of any size (for the camera -> inspection path)."""
    import torch

    from draem_core.config import preset
    from draem_core.model import DraemModel
    from draem_core.modelfile import ModelMetadata, now_iso, save_model

    torch.manual_seed(0)
    config = preset("micro", (64, 64))
    meta = ModelMetadata(model=config, name="self-test whole-frame model (untrained)", created=now_iso())
    return save_model(path, DraemModel(config), meta)


def _refused(tally):
    return next((r for r in tally.kept if r.verdict == NOT_JUDGED), None)


def _trace_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM inspections").fetchone()[0])


def producers() -> dict:
    from app.camera.discovery import discover

    found = discover(timeout_s=60)
    return {"producers": [p.path for p in found.producers], "cameras": [c.serial for c in found.cameras],
            "simulator_devices": sum(c.is_simulator for c in found.cameras), "problems": list(found.problems)}  # fmt: skip


def run_self_test(
    report_path: Path, model: Path | None = None, frames: int = 50, timeout_s: float = 180.0,
    device: str = "auto", log: Callable[[str], None] = print,
) -> SelfTestReport:  # fmt: skip
    """Run every check (a failing one does not stop the others) and write the JSON report atomically."""
    from app.paths import bundled_model

    report = SelfTestReport()
    path = Path(model) if model is not None else bundled_model()

    def check(name: str, fn: Callable[[], dict]) -> None:
        t = time.monotonic()
        try:
            details = fn()
            report.checks[name] = {"ok": True, **details}
            log(f"ok    {name}")
        except Exception as exc:  # noqa: BLE001  (every failure is reported by name; the run goes on)
            report.checks[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            report.failed.append(name)
            log(f"FAIL  {name}: {exc}")
        report.checks[name]["seconds"] = round(time.monotonic() - t, 2)

    with tempfile.TemporaryDirectory(prefix="draem-self-test-") as tmp:
        work = Path(tmp)
        check("versions", versions)
        check("model", lambda: describe_model(path, device))
        if "model" not in report.failed:
            check("demo_line", lambda: check_demo_line(path, frames, timeout_s, device, work / "demo"))
            sim_frames = min(max(10, frames // 2), SIM_FRAMES_MAX)
            check("simulated_camera", lambda: check_simulated_camera(path, sim_frames, timeout_s, device, work / "sim"))
        check("genicam_producers", producers)
    doc = report.as_dict()
    write_bytes_atomic(report_path, (json.dumps(doc, indent=2) + "\n").encode())
    return report
