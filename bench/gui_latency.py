"""Does the inspection window stay responsive while it inspects at full rate? GUI event-loop latency.

A ``QTimer`` at a 1 ms interval (``Qt.PreciseTimer``) records how late each tick comes; a busy GUI thread
(waiting on a camera, the model or the disk, or drawing too much) shows as large lateness. Measured twice
in the real :class:`app.gui.main_window.MainWindow`:

* idle: the window open, no source;
* inspecting: the demo line at ``--fps`` judged by ``--model`` (as fast as the model allows: the worker
  always takes the newest frame), the live view redrawing at ~30 Hz, trace and NG images written.

Prints a JSON record per phase (lateness p50/p99/max, ticks, stalls over 50 ms, and for the inspecting
phase the pipeline's statistics). Usage::

    python bench/gui_latency.py --seconds 10 --fps 30 [--model PATH] [--device cpu] [--backend auto [--calibration DIR]] [--json out.json]

Runs offscreen unless ``QT_QPA_PLATFORM``/``DISPLAY`` say otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402, F401  (before Qt)

STALL_MS = 50.0  # a tick later than this is a visible hitch


def measure_lateness(app, seconds: float) -> dict:
    """Run the event loop for ``seconds`` with a 1 ms timer; lateness statistics in ms."""
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    stamps: list[float] = []
    timer = QTimer(interval=1, timerType=Qt.TimerType.PreciseTimer)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    timer.start()
    loop.exec()
    timer.stop()
    late = np.maximum(np.diff(np.asarray(stamps)) * 1e3 - 1.0, 0.0)
    if late.size == 0:
        return {"ticks": 0}
    return {
        "ticks": int(late.size + 1),
        "lateness_p50_ms": round(float(np.percentile(late, 50)), 3),
        "lateness_p99_ms": round(float(np.percentile(late, 99)), 3),
        "lateness_max_ms": round(float(late.max()), 1),
        "stalls_over_50ms": int((late > STALL_MS).sum()),
    }


def wait_for(app, condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def make_window(args, data_dir: Path, autostart: bool):
    from PySide6.QtCore import QSettings

    from app.gui.main_window import MainWindow
    from app.gui.startup import LaunchOptions
    from app.sources.demo_line import DemoLineConfig
    from app.sources.factory import open_source

    settings = QSettings(str(data_dir / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("inspection/backend", args.backend)  # what the Inference box would set
    settings.setValue("inspection/backend_calibration", str(args.calibration or ""))
    factory = lambda spec: open_source(spec, config=DemoLineConfig(fps=args.fps))  # noqa: E731
    window = MainWindow(LaunchOptions(source="demo", model=args.model, autostart=autostart), settings=settings,
                        source_factory=factory, discover=None, data_dir=data_dir, device=args.device)  # fmt: skip
    window.modes.set_operator(False)  # the engineer view with every panel (what the recorded figures measured)
    window.resize(1600, 1000)
    window.show()
    return window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    parser.add_argument("--fps", type=float, default=30.0, help="demo line frame rate")
    parser.add_argument("--model", type=Path, help="model file (default: the bundled demo model)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backend", default="torch", help="torch, onnxruntime, openvino or auto (the window's setting)")
    parser.add_argument("--calibration", type=Path, help="good images for bf16/int8 (the Inference box's Good images)")
    parser.add_argument("--json", type=Path, help="also write the records here")
    args = parser.parse_args()
    if args.model is None:
        from app.paths import bundled_model

        args.model = bundled_model()
    if not args.model.is_file():
        parser.error(f"model file {args.model} not found; pass --model")

    from PySide6.QtWidgets import QApplication

    from app.gui.app import reserve_gui_core
    from app.gui.theme import apply_theme
    from app.state import AppState

    reserve_gui_core()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        idle = make_window(args, Path(tmp) / "idle", autostart=False)
        records.append({"phase": "idle", **measure_lateness(app, args.seconds)})
        idle.close()

        window = make_window(args, Path(tmp) / "live", autostart=True)
        ok = wait_for(app, lambda: window.station.state == AppState.INSPECTING
                      and window.station.stats().inspected >= 5, 120.0)  # fmt: skip
        if not ok:
            print(f"inspection did not start: {window.status.last_error}", file=sys.stderr)
            return 1
        window.station.reset_counters()
        rec = {"phase": "inspecting", **measure_lateness(app, args.seconds)}
        s = window.station.stats()
        rec.update(camera_fps=round(s.camera_fps, 1), inspected_fps=round(s.inspected_fps, 1),
                   latency_p50_ms=round(s.latency_p50_ms, 1), latency_p95_ms=round(s.latency_p95_ms, 1),
                   inference_ms=round(s.inference_ms, 1), dropped=s.dropped, inspected=s.inspected,
                   device=s.device, backend=str(window.station.inspector.backend.spec), torch_threads=torch.get_num_threads(), cpus=os.cpu_count(),
                   model=str(args.model), demo_fps=args.fps, platform=app.platformName(),
                   load_avg_1min=round(os.getloadavg()[0], 2))  # fmt: skip
        records.append(rec)
        window.close()
    for rec in records:
        print(json.dumps(rec))
    if args.json:
        args.json.write_text(json.dumps(records, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
