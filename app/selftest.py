"""``draem-inspect self-test``: proves an installation (source or frozen) works end to end.

Loads the bundled model, runs the demo line and the simulated GenICam camera through the same
:class:`~app.pipeline.pipeline.InspectionPipeline` the GUI uses, lists the GenTL producers, and writes a JSON
report. Each check is recorded; the first failure names what failed and why.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from draem_core.errors import DraemError
from draem_core.imageio import write_bytes_atomic


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


WHOLE_FRAME = (0, 0, 1 << 16, 1 << 16)  # an operator ROI clipped to any frame: the whole frame


def inspect_source(spec: str, inspector, frames: int, timeout_s: float, whole_frame: bool = False) -> dict:
    """Run ``frames`` inspections of source ``spec`` through the app's pipeline; verdict counts and rate.

    ``whole_frame`` inspects whole frames even when the model has an inspection region (as an operator ROI
    would): the simulator's frames are not the demo line's, and need not contain the bundled model's region.
    """
    from app.pipeline.pipeline import InspectionPipeline
    from app.sources.factory import open_source

    source = open_source(spec)
    errors: list[str] = []
    source.open()
    source.start()
    pipeline = InspectionPipeline(source, inspector, on_error=lambda *a: errors.append(" ".join(map(str, a))),
                                  roi=WHOLE_FRAME if whole_frame else None)  # fmt: skip
    try:
        pipeline.start()
        t0 = time.monotonic()
        while (stats := pipeline.stats()).inspected < frames:
            if time.monotonic() - t0 > timeout_s:
                msg = f"{spec}: only {stats.inspected} of {frames} inspections in {timeout_s:g} s"
                raise SelfTestFailed(msg + (f" ({errors[-1]})" if errors else ""))
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
    finally:
        pipeline.stop()
        source.stop()
        source.close()
    verdicts = {"OK": stats.inspected - stats.ng, "NG": stats.ng}
    return {"source": spec, "inspections": stats.inspected, "verdicts": verdicts,
            "frames_per_s": round(stats.inspected / elapsed, 2), "latency_p50_ms": round(stats.latency_p50_ms, 1),
            "inference_ms": round(stats.inference_ms, 1), "dropped": stats.dropped, "errors": errors[:5]}  # fmt: skip


def producers() -> dict:
    from app.camera.discovery import discover

    found = discover(timeout_s=60)
    return {"producers": [p.path for p in found.producers], "cameras": [c.serial for c in found.cameras],
            "simulator_devices": sum(c.is_simulator for c in found.cameras), "problems": list(found.problems)}  # fmt: skip


def run_self_test(
    report_path: Path, model: Path | None = None, frames: int = 50, timeout_s: float = 180.0,
    device: str = "auto", log: Callable[[str], None] = print,
) -> SelfTestReport:  # fmt: skip
    from app.paths import bundled_model
    from draem_core.inspector import Inspector

    report = SelfTestReport()
    state: dict = {}

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

    def load_model() -> dict:
        path = model or bundled_model()
        state["inspector"] = insp = Inspector.from_file(path, device)
        return {"path": str(path), "name": insp.meta.name, "preset": insp.meta.model.preset,
                "device": str(insp.device), "threshold": insp.threshold}  # fmt: skip

    check("versions", versions)
    check("model", load_model)
    if "inspector" in state:
        check("demo_line", lambda: inspect_source("demo", state["inspector"], frames, timeout_s))
        check(
            "simulated_camera",
            lambda: inspect_source("sim", state["inspector"], max(10, frames // 2), timeout_s, whole_frame=True),
        )
    check("genicam_producers", producers)
    doc = report.as_dict()
    write_bytes_atomic(report_path, (json.dumps(doc, indent=2) + "\n").encode())
    return report
