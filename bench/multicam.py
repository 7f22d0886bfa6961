"""Several cameras in one station on the CPU: two simulated cameras (the genicam wheel's viky.cti) and the demo line.

    python bench/multicam.py --seconds 30 --json multicam.json        # all three parts
    python bench/multicam.py --only forward --rounds 30                 # one part

1. ``forward`` — does batching the frames of two cameras that run the same network help on the CPU? The demo
   model's network (cpu preset, 256x256) and the tiny preset: two frames one after the other, one batch of two,
   and two threads at once; milliseconds per two frames (median and 10th percentile of interleaved rounds), at 1
   torch thread (the window's: one core stays with the GUI) and at 2 (headless).
2. ``station`` — the Qt-free station without a window (``draem-inspect run``'s path) with sim:0, sim:1 and the
   demo line in free run for ``--seconds``: inspected fps and latency p50/p95 per camera, with the cameras taking
   turns on the device (the default) and with every camera running its model at once.
3. ``gui`` — the window with the same three cameras: GUI-thread lateness (a 1 ms timer, as bench/gui_latency.py)
   while every camera is judged, and each camera's inspected fps and latency.

Models: ``demo`` — the demo line's camera runs the bundled demo model; the simulated cameras run the same network
on their whole 400x400 frame (the demo model's region and alignment are a demo part's, so a copy without them);
``tiny`` — the tiny preset at 256x256 with random weights (speed only) on every camera.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app's entry point does
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402  (before Qt)

SOURCES = ("demo", "sim:0", "sim:1")  # camera 0 is the demo line


def model_files(folder: Path) -> dict[str, list[Path]]:
    """Per setup, the model of each camera in SOURCES order."""
    from app.paths import bundled_model
    from draem_core.config import preset
    from draem_core.model import DraemModel
    from draem_core.modelfile import ModelMetadata, load_model, now_iso, save_model

    demo = bundled_model()
    network, meta = load_model(demo)
    whole = save_model(folder / "demo-whole-frame.safetensors", network,
                       dataclasses.replace(meta, roi=None, alignment=None, name="demo network, whole frame"))  # fmt: skip
    torch.manual_seed(0)
    config = preset("tiny", 256)
    tiny = save_model(folder / "tiny.safetensors", DraemModel(config).eval(),
                      ModelMetadata(model=config, name="tiny (random weights)", created=now_iso()))  # fmt: skip
    return {"demo": [demo, whole, whole], "tiny": [tiny, tiny, tiny]}


def source_factory(demo_fps: float):
    from app.sources.demo_line import DemoLine, DemoLineConfig
    from app.sources.factory import open_source

    return lambda spec: DemoLine(DemoLineConfig(fps=demo_fps)) if spec == "demo" else open_source(spec)


# --- 1. the network alone -------------------------------------------------------------------------------


def forward(rounds: int) -> list[dict]:
    from draem_core.config import preset
    from draem_core.model import DraemModel

    out = []
    for name in ("cpu", "tiny"):
        model = DraemModel(preset(name, 256)).eval()
        one, two = torch.rand(1, 3, 256, 256), torch.rand(2, 3, 256, 256)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            ways = _ways(model, one, two)
            times = {k: [] for k in ways}
            with torch.inference_mode():
                for way in ways.values():
                    way()  # warm-up
                for _ in range(rounds):
                    for key, way in ways.items():
                        t0 = time.perf_counter()
                        way()
                        times[key].append((time.perf_counter() - t0) * 1e3)
            out.append({"preset": name, "torch_threads": threads, **{k: _stat(v) for k, v in times.items()},
                        "load_avg_1min": round(os.getloadavg()[0], 1)})  # fmt: skip
    torch.set_num_threads(os.cpu_count() or 1)
    return out


def _ways(model, one: torch.Tensor, two: torch.Tensor) -> dict:
    """The three ways of running two cameras' frames through one network."""
    return {"one_after_the_other": lambda: (model(one), model(one)), "batch_of_two": lambda: model(two),
            "two_threads_at_once": lambda: _at_once(model, one)}  # fmt: skip


def _at_once(model, frame) -> None:
    def run() -> None:
        with torch.inference_mode():
            model(frame)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _stat(values: list[float]) -> dict:
    return {"median_ms": round(statistics.median(values), 1), "p10_ms": round(float(np.percentile(values, 10)), 1)}


# --- 2. the station without a window --------------------------------------------------------------------


def station(models: dict[str, list[Path]], seconds: float, demo_fps: float, data: Path) -> list[dict]:
    from app.station import StationConfig
    from app.station.headless import RunPlan, open_station, run_station

    out = []
    for setup, files in models.items():
        for take_turns in (True, False):
            config = StationConfig(device="cpu", take_turns=take_turns, ng_images=False)
            headless = open_station(SOURCES, files, data / f"{setup}-{take_turns}", config=config,
                                    source_factory=source_factory(demo_fps), timeout_s=120.0)  # fmt: skip
            try:
                time.sleep(3.0)  # every camera's first frames, the models warm
                doc = run_station(headless, RunPlan(seconds=seconds), threading.Event())
            finally:
                headless.close()
            out.append({"models": setup, "take_turns": take_turns, "torch_threads": torch.get_num_threads(),
                        "load_avg_1min": round(os.getloadavg()[0], 1), "cameras": [_camera(c) for c in doc["cameras"]]})  # fmt: skip
    return out


def _camera(entry: dict) -> dict:
    keys = ("spec", "fps", "latency_p50_ms", "latency_p95_ms", "ok", "ng", "not_judged", "dropped")
    return {k: entry[k] for k in keys}


# --- 3. the window --------------------------------------------------------------------------------------


def gui(models: dict[str, list[Path]], seconds: float, demo_fps: float, data: Path) -> list[dict]:
    from gui_latency import measure_lateness, wait_for
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.gui.app import reserve_gui_core
    from app.gui.main_window import MainWindow
    from app.gui.settings import GuiSettings
    from app.gui.startup import LaunchOptions
    from app.gui.theme import apply_theme

    reserve_gui_core()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    out = []
    for setup, files in models.items():
        folder = data / f"gui-{setup}"
        store = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
        for camera, path in enumerate(files[1:], start=1):
            GuiSettings(store).set_model_path(path, camera)  # the cameras' own models, as the window keeps them
        window = MainWindow(LaunchOptions(sources=SOURCES, model=files[0]), settings=store, discover=None,
                            source_factory=source_factory(demo_fps), data_dir=folder, device="cpu")  # fmt: skip
        window.resize(1600, 1000)
        window.show()
        if not wait_for(app, lambda w=window: _all_judged(w, 3), 180.0):
            raise SystemExit(f"{setup}: the window did not judge every camera: {window.status.last_error}")
        window.reset_counters()
        started = time.monotonic()
        record = {"models": setup, **measure_lateness(app, seconds), "torch_threads": torch.get_num_threads(),
                  "platform": app.platformName(), "load_avg_1min": round(os.getloadavg()[0], 1)}  # fmt: skip
        elapsed = time.monotonic() - started
        record["cameras"] = [{"camera": c.pipeline.camera_id, "inspected_fps": round(s.inspected / elapsed, 2),
                              "latency_p50_ms": round(s.latency_p50_ms), "latency_p95_ms": round(s.latency_p95_ms),
                              "inspected": s.inspected}
                             for c, s in zip(window.station.cameras, window.station.camera_stats(), strict=True)]  # fmt: skip
        window.close()
        out.append(record)
    return out


def _all_judged(window, count: int) -> bool:
    from app.state import AppState

    judged = [s.inspected for s in window.station.camera_stats()]
    return window.station.state == AppState.INSPECTING and len(judged) == len(SOURCES) and min(judged) >= count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("forward", "station", "gui"), help="run one part (default: all)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each station and window run")
    parser.add_argument("--rounds", type=int, default=20, help="forward: interleaved rounds per way")
    parser.add_argument("--demo-fps", type=float, default=10.0, help="the demo line's frame rate")
    parser.add_argument("--json", type=Path, help="also write the records here")
    args = parser.parse_args()
    results: dict = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        models = model_files(data)
        parts = [args.only] if args.only else ["forward", "station", "gui"]
        for part in parts:
            if part == "forward":
                results[part] = forward(args.rounds)
            else:
                results[part] = {"station": station, "gui": gui}[part](models, args.seconds, args.demo_fps, data)
            for record in results[part]:
                print(json.dumps({"part": part, **record}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
