"""``draem-inspect cameras`` and ``draem-inspect grab``: list cameras, save frames from any source."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from app.camera.errors import CameraError
from app.sources.factory import SPEC_HELP, open_source


def register(subparsers) -> None:
    """Add the camera commands to the ``draem-inspect`` parser."""
    cams = subparsers.add_parser(
        "cameras",
        help="list GenICam cameras (simulator included)",
        description="List every camera the GenTL producers expose. Producers come from "
        "GENICAM_GENTL64_PATH, --producer and the bundled simulator.",
    )
    cams.add_argument("--json", action="store_true", help="machine-readable output")
    cams.add_argument(
        "--producer",
        action="append",
        default=[],
        metavar="PATH",
        help="extra .cti file or folder (repeatable)",
    )
    cams.add_argument("--no-simulator", action="store_true", help="leave out the simulated producer")
    cams.set_defaults(func=run_cameras)

    grab = subparsers.add_parser(
        "grab",
        help="save frames from a camera or another source as PNG",
        description="Open a source, apply feature values, save N frames and print the "
        "achieved frame rate and counters.",
    )
    grab.add_argument("--camera", required=True, metavar="ID", help=SPEC_HELP)
    grab.add_argument("--frames", type=_positive_int, default=10, help="frames to save (default 10)")
    grab.add_argument("--out", required=True, type=Path, help="folder for frame_00000.png ...")
    grab.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FEATURE=VALUE",
        dest="features",
        help="camera feature to set before grabbing (repeatable), e.g. Width=640",
    )
    grab.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="give up after S seconds (default 30)"
    )
    grab.set_defaults(func=run_grab)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run_cameras(args) -> int:
    """List producers and cameras."""
    from app.camera.discovery import discover

    found = discover(args.producer, include_simulator=not args.no_simulator)
    if args.json:
        doc = {
            "producers": [asdict(p) for p in found.producers],
            "cameras": [asdict(c) for c in found.cameras],
            "problems": list(found.problems),
        }
        print(json.dumps(doc, indent=1))
        return 0
    for problem in found.problems:
        print(f"warning: producer {problem}")
    if not found.cameras:
        print("no cameras found; set GENICAM_GENTL64_PATH to your camera vendor's GenTL producer (.cti)")
        return 0
    print(f"{'serial':<16} {'vendor':<28} {'model':<16} {'access':<12} {'sim':<4} producer")
    for c in found.cameras:
        sim = "yes" if c.is_simulator else ""
        print(f"{c.serial:<16} {c.vendor:<28} {c.model:<16} {c.access_status:<12} {sim:<4} {c.producer}")
    return 0


def run_grab(args) -> int:
    """Save ``--frames`` frames; exit 2 if fewer arrive within ``--timeout``."""
    from draem_core.imageio import write_image_atomic

    features = [_split_feature(item) for item in args.features]
    source = open_source(args.camera)
    try:
        source.open()
        for name, value in features:
            if not hasattr(source, "set_feature"):
                raise CameraError(args.camera, f"--set {name}=... needs a GenICam camera, not this source")
            source.set_feature(name, value)
        source.start()
        stamps = []
        deadline = time.monotonic() + args.timeout
        while len(stamps) < args.frames and time.monotonic() < deadline:
            frame = source.wait_latest(min(1.0, max(deadline - time.monotonic(), 0.0)))
            if frame is not None:
                write_image_atomic(args.out / f"frame_{len(stamps):05d}.png", frame.image)
                stamps.append(frame.timestamp)
        stats = source.stats()
    finally:
        source.close()
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 and stamps[-1] > stamps[0] else 0.0
    print(
        f"saved {len(stamps)} frames to {args.out}: {rate:.1f} fps achieved; received {stats.received}, "
        f"dropped {stats.dropped}, incomplete {stats.incomplete}, reconnects {stats.reconnects}"
    )
    if len(stamps) < args.frames:
        raise CameraError(
            args.camera,
            f"only {len(stamps)} of {args.frames} frames within {args.timeout:g} s"
            + (f" (last error: {stats.last_error})" if stats.last_error else ""),
        )
    return 0


def _split_feature(item: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise CameraError("--set", f"expected FEATURE=VALUE, got {item!r}")
    return name.strip(), value.strip()
