"""Recipes: what a station needs to inspect one product, stored as JSON files and switched by name.

A recipe bundles, per camera, the model (a registry version, or a model file outside the registry), a camera
settings file, the inspection region and the threshold, plus the station's output settings. Layout under
``data_home()/recipes``::

    housing-A.json    {"format": "draem-inspect recipe", "version": 1, "name": "housing-A",
                       "cameras": [{"camera": 0, "model_version": "v0003", "roi": [10, 20, 300, 200],
                                    "threshold": 0.31, "camera_settings": ""}],
                       "reject": {...} or null, "note": "", "created": "..."}
    active.json       {"active": "housing-A", "activated": "..."}

Files are written atomically and validated field by field on load: a bad file is one line naming the file and
the field. One camera entry applies to every camera of the station; otherwise there is one per camera. Qt-free.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from app.paths import data_home
from app.registry import VERSION_RE, ModelRegistry
from app.reject import RejectConfig
from app.station.setup import MAX_CAMERAS  # as many camera entries as a station has cameras at most
from draem_core.errors import DraemError, one_line
from draem_core.imageio import remove_leftover_temp_files, write_bytes_atomic
from draem_core.inspector import Roi
from draem_core.modelfile import now_iso

FORMAT = "draem-inspect recipe"  # the "format" field of every recipe file
VERSION = 1  # the newest recipe file version this program reads
ACTIVE_FILE = "active.json"  # which recipe is in force
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # recipe names: also their file names
MAX_FILE_BYTES = 1 << 20  # a recipe file is a few hundred bytes; anything this large is not one


class RecipeError(DraemError):
    """A recipe is missing, invalid or cannot be stored (names the recipe or file and the reason)."""

    def __init__(self, where: object, reason: str) -> None:
        self.where, self.reason = str(where), reason
        super().__init__(f"recipe {one_line(where)}: {reason}")


@dataclass(frozen=True)
class CameraEntry:
    """What one camera uses under a recipe."""

    camera: int  # the camera's position in the station (0 = the first source)
    model_version: str = ""  # a registry version id (v0003); "" when model_file is given
    model_file: str = ""  # a model file outside the registry (e.g. the bundled demo model); "" with a version
    camera_settings: str = ""  # a camera settings file applied on activation ("" = the camera stays as it is)
    roi: Roi | None = None  # the inspection region x, y, w, h; None = the model's own, else the whole frame
    threshold: float | None = None  # raw NG threshold; None = the model's calibrated one

    def to_dict(self) -> dict:
        doc = asdict(self)
        doc["roi"] = list(self.roi) if self.roi is not None else None
        return doc


@dataclass(frozen=True)
class Recipe:
    """A product: every camera's model, settings, region and threshold, and the output settings."""

    name: str  # the name a PLC, MES or operator picks it by (also the file name)
    cameras: tuple[CameraEntry, ...]  # one entry for every camera, or one per camera in camera order
    reject: RejectConfig | None = None  # reject pulse / result stream settings; None leaves the station's
    note: str = ""  # free text from the engineer
    created: str = ""  # ISO 8601 UTC time it was saved

    def entry_for(self, camera: int) -> CameraEntry:
        """The entry of camera ``camera`` (the single entry when there is one for every camera).

        Raises:
            RecipeError: the recipe has entries per camera, but none for this one.
        """
        if len(self.cameras) == 1:
            return self.cameras[0]
        if camera >= len(self.cameras):
            msg = f"has {len(self.cameras)} camera entries; the station's camera {camera + 1} has none"
            raise RecipeError(self.name, msg)
        return self.cameras[camera]

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "name": self.name, "note": self.note, "created": self.created,
                "cameras": [c.to_dict() for c in self.cameras],
                "reject": asdict(self.reject) if self.reject is not None else None}  # fmt: skip


def check_name(name: str) -> str:
    """``name`` when it can name a recipe (letters, digits, ``._-``, at most 64, not starting with a dot).

    Raises:
        RecipeError: it cannot.
    """
    if not isinstance(name, str) or not NAME_RE.match(name):
        msg = "a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        raise RecipeError(repr(name), msg)
    return name


def model_path(entry: CameraEntry, registry: ModelRegistry) -> Path:
    """The model file an entry names (a registry version's file, or its model file).

    Raises:
        RegistryError: the version is not in the registry or its record is corrupt.
        RecipeError: the model file does not exist.
    """
    if entry.model_version:
        return registry.get(entry.model_version).model_path
    path = Path(entry.model_file)
    if not path.is_file():
        raise RecipeError(path, "model file does not exist")
    return path


class RecipeStore:
    """The recipes of a station (default folder ``data_home()/recipes``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_home() / "recipes"
        if self.root.is_dir():
            remove_leftover_temp_files(self.root, min_age_s=600.0)  # of writes that were killed

    def path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.json"

    def names(self) -> list[str]:
        """Every stored recipe's name, sorted (files are not read)."""
        if not self.root.is_dir():
            return []
        found = (p.stem for p in self.root.glob("*.json") if p.name != ACTIVE_FILE)
        return sorted(n for n in found if NAME_RE.match(n))

    def load(self, name: str) -> Recipe:
        """Read and validate one recipe.

        Raises:
            RecipeError: no such recipe, or the file is not a valid recipe (one line: the file and the field).
        """
        path = self.path(name)
        if not path.is_file():
            raise RecipeError(name, f"no such recipe in {self.root}")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError(f"file is larger than {MAX_FILE_BYTES} bytes")
            doc = json.loads(path.read_text(encoding="utf-8"))
            recipe = parse(doc)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            raise RecipeError(path, f"not a valid recipe file ({one_line(exc)})") from exc
        if recipe.name != name:
            raise RecipeError(path, f"the file names recipe {recipe.name!r}, not {name!r}")
        return recipe

    def save(self, recipe: Recipe) -> Path:
        """Write a recipe atomically (an existing one of the same name is replaced)."""
        recipe = Recipe(check_name(recipe.name), recipe.cameras, recipe.reject, recipe.note, recipe.created or now_iso())
        parse(recipe.to_dict())  # what cannot be read back is not written
        path = self.path(recipe.name)
        write_bytes_atomic(path, (json.dumps(recipe.to_dict(), indent=1) + "\n").encode())
        return path

    def delete(self, name: str) -> None:
        """Remove a recipe (the active one too: then none is active)."""
        self.path(name).unlink(missing_ok=True)
        if self.active_name() == name:
            (self.root / ACTIVE_FILE).unlink(missing_ok=True)

    def active_name(self) -> str | None:
        """The recipe in force, None when none was activated (a corrupt pointer reads as none)."""
        try:
            doc = json.loads((self.root / ACTIVE_FILE).read_text(encoding="utf-8"))
            name = doc.get("active") if isinstance(doc, dict) else None
        except (OSError, ValueError):
            return None
        return name if isinstance(name, str) and NAME_RE.match(name) else None

    def set_active(self, name: str) -> Recipe:
        """Make ``name`` the recipe in force (validated first; the pointer is written atomically)."""
        recipe = self.load(name)
        doc = {"active": name, "activated": now_iso()}
        write_bytes_atomic(self.root / ACTIVE_FILE, (json.dumps(doc) + "\n").encode())
        return recipe


# --- validation ------------------------------------------------------------------------------------------

_TOP = {"format", "version", "name", "cameras", "reject", "note", "created"}
_ENTRY = {f.name for f in fields(CameraEntry)}
_REJECT = {f.name: type(f.default) for f in fields(RejectConfig)}


def parse(doc: object) -> Recipe:
    """A :class:`Recipe` from a recipe file's JSON, every field checked.

    Raises:
        ValueError: the first field that is wrong, named.
    """
    if not isinstance(doc, dict):
        raise ValueError("the file does not hold a JSON object")
    _no_unknown(doc, _TOP, "")
    if doc.get("format") != FORMAT:
        raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
    version = doc.get("version")
    if not isinstance(version, int) or not 1 <= version <= VERSION:
        raise ValueError(f"version {version!r} is not one this program reads (1..{VERSION})")
    name = doc.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError(f"name {name!r} is not a recipe name")
    cameras = doc.get("cameras")
    if not isinstance(cameras, list) or not 1 <= len(cameras) <= MAX_CAMERAS:
        raise ValueError(f"cameras must be a list of 1 to {MAX_CAMERAS} entries")
    entries = tuple(_entry(e, i) for i, e in enumerate(cameras))
    reject = _reject(doc.get("reject"))
    note, created = _text(doc, "note", ""), _text(doc, "created", "")
    return Recipe(name, entries, reject, note, created)


def _entry(doc: object, index: int) -> CameraEntry:
    where = f"cameras[{index}]"
    if not isinstance(doc, dict):
        raise ValueError(f"{where} is not an object")
    _no_unknown(doc, _ENTRY, f"{where}.")
    if doc.get("camera", index) != index:
        raise ValueError(f"{where}.camera is {doc.get('camera')!r}; entries are listed in camera order from 0")
    version, file = _text(doc, "model_version", where), _text(doc, "model_file", where)
    if bool(version) == bool(file):
        raise ValueError(f"{where} needs exactly one of model_version and model_file")
    if version and not VERSION_RE.match(version):
        raise ValueError(f"{where}.model_version {version!r} is not a registry version id (v0001, …)")
    threshold = doc.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not 0.0 < threshold < 1.0):  # fmt: skip
        raise ValueError(f"{where}.threshold {threshold!r} is not a number inside (0, 1)")
    return CameraEntry(index, version, file, _text(doc, "camera_settings", where), _roi(doc.get("roi"), where),
                       float(threshold) if threshold is not None else None)  # fmt: skip


def _roi(value: object, where: str) -> Roi | None:
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) and not isinstance(v, bool)
                                                             for v in value)  # fmt: skip
    if not ok or value[0] < 0 or value[1] < 0 or value[2] < 1 or value[3] < 1:
        raise ValueError(f"{where}.roi {value!r} is not [x, y, width, height] in whole pixels")
    return tuple(value)  # type: ignore[return-value]


def _reject(value: object) -> RejectConfig | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("reject is not an object")
    _no_unknown(value, set(_REJECT), "reject.")
    for key, item in value.items():
        kind = _REJECT[key]
        fits = isinstance(item, kind) and not (kind is int and isinstance(item, bool))
        if not fits and not (kind is float and isinstance(item, int) and not isinstance(item, bool)):
            raise ValueError(f"reject.{key} {item!r} is not a {kind.__name__}")
    return RejectConfig(**value)


def _text(doc: dict, key: str, where: str) -> str:
    value = doc.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{where + '.' if where else ''}{key} is not text")
    return value


def _no_unknown(doc: dict, known: set[str], prefix: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ValueError(f"unknown field {prefix}{unknown[0]}")
