"""`draem-inspect recipe list | save NAME | activate NAME | show NAME | delete NAME`: the station's products."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipe", help="recipes (products): list, save, activate, show, delete",
                       description="A recipe bundles each camera's model (a registry version or a file), camera "
                       "settings file, inspection region and threshold, and the reject output. The active recipe is "
                       "the one 'run' and the window start with; a running station switches from the window, OPC UA "
                       "or MQTT.")  # fmt: skip
    p.add_argument("--root", type=Path, help="recipe folder (default: <data home>/recipes)")
    cmds = p.add_subparsers(dest="recipe_command", metavar="ACTION", required=True)

    c = cmds.add_parser("list", help="list the recipes; * marks the active one")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(func=cmd_list)

    c = cmds.add_parser("save", help="store a recipe (replaces one of the same name)")
    c.add_argument("name", help="recipe name: letters, digits, '.', '_', '-'")
    c.add_argument("--model", action="append", metavar="VERSION|FILE",
                   help="registry version (v0003) or model file; one for every camera or one per camera "
                   "(default: the registry's active version)")  # fmt: skip
    c.add_argument("--threshold", action="append", type=float, metavar="T",
                   help="raw NG threshold in (0, 1), per camera like --model (default: the model's calibrated one)")
    c.add_argument("--roi", action="append", metavar="X,Y,W,H", help="inspection region, per camera like --model")
    c.add_argument("--camera-settings", action="append", type=Path, metavar="FILE",
                   help="camera settings file applied when the recipe is switched to, per camera like --model")
    c.add_argument("--pulse", metavar="LINE", help="reject pulse on this camera output line (e.g. Line1)")
    c.add_argument("--pulse-ms", type=float, default=50.0, metavar="MS", help="reject pulse length (default 50)")
    c.add_argument("--note", default="", help="free text kept with the recipe")
    c.add_argument("--activate", action="store_true", help="also make it the active recipe")
    c.set_defaults(func=cmd_save)

    c = cmds.add_parser("activate", help="make a recipe the active one (what the next start uses)")
    c.add_argument("name")
    c.set_defaults(func=cmd_activate)

    c = cmds.add_parser("show", help="print a recipe as JSON")
    c.add_argument("name")
    c.set_defaults(func=cmd_show)

    c = cmds.add_parser("delete", help="remove a recipe")
    c.add_argument("name")
    c.set_defaults(func=cmd_delete)


def _store(args: argparse.Namespace):
    from app.recipes import RecipeStore

    return RecipeStore(args.root)


def _registry():
    from app.paths import data_home
    from app.registry import ModelRegistry

    return ModelRegistry(data_home() / "models")


def cmd_list(args: argparse.Namespace) -> int:
    from app.recipes import RecipeError

    store = _store(args)
    active = store.active_name()
    rows, problems = [], []
    for name in store.names():
        try:
            rows.append(store.load(name))
        except RecipeError as exc:
            problems.append(str(exc))
    if args.json:
        doc = {"root": str(store.root), "active": active, "recipes": [r.to_dict() for r in rows], "problems": problems}
        print(json.dumps(doc, indent=2))
        return 0
    if not rows and not problems:
        print(f"no recipes in {store.root}")
    for recipe in rows:
        mark = "*" if recipe.name == active else " "
        print(f"{mark} {recipe.name}  {'; '.join(_entry_text(e) for e in recipe.cameras)}  {recipe.note}".rstrip())
    for line in problems:
        print(f"! {line}")
    return 0


def _entry_text(entry) -> str:
    model = entry.model_version or Path(entry.model_file).name
    threshold = f"threshold {entry.threshold:.4f}" if entry.threshold is not None else "calibrated threshold"
    roi = f", region {','.join(map(str, entry.roi))}" if entry.roi else ""
    return f"camera {entry.camera + 1}: {model}, {threshold}{roi}"


def cmd_save(args: argparse.Namespace) -> int:
    from app.recipes import Recipe, RecipeError, model_path
    from app.reject import RejectConfig

    registry = _registry()
    models = args.model or [_active_version(registry)]
    count = len(models)
    for option in ("threshold", "roi", "camera_settings"):
        values = getattr(args, option) or []
        if len(values) not in (0, 1, count):
            raise RecipeError(args.name, f"give --{option.replace('_', '-')} once or once per --model ({count})")
    entries = tuple(_entry(args, i, model) for i, model in enumerate(models))
    for entry in entries:
        model_path(entry, registry)  # the version or file exists
        if entry.camera_settings and not Path(entry.camera_settings).is_file():
            raise RecipeError(entry.camera_settings, "camera settings file does not exist")
    reject = RejectConfig(pulse_enabled=True, line=args.pulse, pulse_s=args.pulse_ms / 1000.0) if args.pulse else None
    store = _store(args)
    path = store.save(Recipe(args.name, entries, reject, args.note))
    if args.activate:
        store.set_active(args.name)
    print(f"saved recipe {args.name} to {path}{' and activated it' if args.activate else ''}")
    return 0


def _active_version(registry) -> str:
    from app.recipes import RecipeError

    active = registry.active_id()
    if active is None:
        raise RecipeError("(new)", f"no --model given and no active version in the registry {registry.root}")
    return active


def _entry(args: argparse.Namespace, index: int, model: str):
    from app.recipes import CameraEntry, RecipeError
    from app.registry import VERSION_RE

    def pick(option: str):
        values = getattr(args, option) or []
        return values[index] if len(values) > 1 else values[0] if values else None

    roi_text, settings = pick("roi"), pick("camera_settings")
    try:
        roi = tuple(int(v) for v in roi_text.split(",")) if roi_text else None
    except ValueError:
        roi = ()
    if roi is not None and (len(roi) != 4 or min(roi[2:]) < 1 or min(roi[:2]) < 0):
        raise RecipeError(args.name, f"--roi {roi_text!r} is not X,Y,W,H in whole pixels")
    threshold = pick("threshold")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise RecipeError(args.name, f"--threshold {threshold} is not inside (0, 1)")
    version = model if VERSION_RE.match(model) else ""
    file = "" if version else str(Path(model).resolve())
    return CameraEntry(index, version, file, str(Path(settings).resolve()) if settings else "", roi, threshold)


def cmd_activate(args: argparse.Namespace) -> int:
    from app.recipes import model_path

    store = _store(args)
    recipe = store.load(args.name)
    registry = _registry()
    for entry in recipe.cameras:
        model_path(entry, registry)
    store.set_active(args.name)
    print(f"active recipe: {args.name} (the next start uses it; a running station switches from the window, "
          "OPC UA or MQTT)")  # fmt: skip
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    print(json.dumps(_store(args).load(args.name).to_dict(), indent=2))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from app.recipes import RecipeError

    store = _store(args)
    if args.name not in store.names():
        raise RecipeError(args.name, f"no such recipe in {store.root}")
    store.delete(args.name)
    print(f"deleted recipe {args.name}")
    return 0
