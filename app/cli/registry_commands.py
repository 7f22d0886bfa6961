"""`draem-inspect registry list | add MODEL | activate ID`: the model versions and which one is active."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("registry", help="model versions: list, add a model file, activate (roll back)")
    p.add_argument("--root", type=Path, help="registry folder (default: <data home>/models)")
    cmds = p.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    c = cmds.add_parser("list", help="list the versions; * marks the active one")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_list)

    c = cmds.add_parser("add", help="store a model file as a new version")
    c.add_argument("model", type=Path, help="model file (.safetensors)")
    c.add_argument("--note", default="", help="free text kept with the version")
    c.add_argument("--threshold", type=float, help="raw threshold to store instead of the calibrated one")
    c.add_argument("--activate", action="store_true", help="also make it the active version")
    c.add_argument("--json", action="store_true", help="print the new record as JSON")
    c.set_defaults(func=cmd_add)

    c = cmds.add_parser("activate", help="make a version the active one (rollback: activate an older one)")
    c.add_argument("id", help="version id, e.g. v0002")
    c.add_argument("--json", action="store_true", help="print the activated record as JSON")
    c.set_defaults(func=cmd_activate)


def _registry(args: argparse.Namespace):
    from app.registry import ModelRegistry

    return ModelRegistry(args.root)


def cmd_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    versions = reg.versions()
    active = reg.active_id()
    if args.json:
        doc = {"root": str(reg.root), "active": active, "versions": [v.to_dict() for v in versions],
               "problems": [{"path": str(p), "reason": r} for p, r in reg.problems]}  # fmt: skip
        print(json.dumps(doc, indent=2))
        return 0
    if not versions:
        print(f"no model versions in {reg.root}")
    for v in versions:
        mark = "*" if v.id == active else " "
        t = v.threshold
        shown = f"{t:.4f}" if t is not None else "n/a"
        frr = v.metrics.get("false_reject")
        extra = f"  false-reject {frr:.1%}" if isinstance(frr, float) else ""
        print(f"{mark} {v.id}  {v.created}  {v.name}  threshold {shown}{extra}  parent {v.parent or '-'}")
    for path, reason in reg.problems:
        print(f"! {path}: {reason}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    reg = _registry(args)
    record = reg.add(args.model, threshold=args.threshold, note=args.note)
    if args.activate:
        reg.activate(record.id)
    if args.json:
        print(json.dumps({**record.to_dict(), "active": bool(args.activate)}, indent=2))
    else:
        print(f"added {record.id} ({record.name}){' and activated it' if args.activate else ''}")
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    record = _registry(args).activate(args.id)
    if args.json:
        print(json.dumps(record.to_dict(), indent=2))
    else:
        print(f"active version: {record.id} ({record.name}, {record.model_path})")
    return 0
