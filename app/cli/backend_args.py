"""The ``--backend``/``--precision``/``--calibration`` options shared by predict, eval and bench, and the
Inspector they open (derived graphs cached in the data folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.paths import data_home
from draem_core.backends.frames import MAX_GOOD_FRAMES, read_good_frames
from draem_core.backends.spec import AUTO, BACKENDS, PRECISIONS, BackendOptions, BackendRequest


def backend_cache() -> Path:
    """Where exported graphs and the validation and auto-choice records live."""
    return data_home() / "backends"


def add_backend_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="torch", choices=[*BACKENDS, AUTO],
                   help="inference backend (default torch); auto: the fastest installed one that is validated for "
                        "this model, chosen once and cached")  # fmt: skip
    p.add_argument("--precision", choices=PRECISIONS,
                   help="fp32 (default for a named backend), bf16 (openvino, CPUs with bf16) or int8; auto without "
                        "it considers every precision it can validate")  # fmt: skip
    p.add_argument("--calibration", type=Path, metavar="DIR",
                   help=f"good images of the product, not test images (the first {MAX_GOOD_FRAMES}): calibrate int8 "
                        "and validate bf16/int8 against torch")  # fmt: skip


def backend_options(args: argparse.Namespace) -> BackendOptions:
    frames: tuple = ()
    if args.calibration is not None:
        frames, skipped = read_good_frames(args.calibration)
        for path, reason in skipped:
            print(f"skipped calibration image {path}: {reason}", file=sys.stderr)
    return BackendOptions(cache_dir=backend_cache(), good_frames=frames)


def open_inspector(args: argparse.Namespace):  # -> Inspector (imported late: torch loads with it)
    """The Inspector of ``args.model`` on ``args.device`` with the asked backend; says which one runs."""
    from draem_core.inspector import Inspector

    request = BackendRequest.parse(args.backend, args.precision)
    inspector = Inspector.from_file(args.model, args.device, request, backend_options(args))
    if request.name != "torch":
        print(f"backend {describe_backend(inspector)}", file=sys.stderr)
    return inspector


def describe_backend(inspector) -> str:
    """``onnxruntime (auto: min ms torch 120.1, onnxruntime 60.2; refused openvino:int8: ...)``."""
    backend = inspector.backend
    choice = backend.info.get("auto")
    if not choice:
        return str(backend.spec)
    times = ", ".join(f"{k} {v:.1f}" for k, v in choice["ms_min"].items())
    refused = "".join(f"; refused {k}: {v}" for k, v in choice["refused"].items())
    return f"{backend.spec} (auto, fastest of ms per image: {times}{refused})"
