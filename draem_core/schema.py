"""What the metadata of a model file and of a training checkpoint may hold: every field with its type and
bounds, checked before anything is built from it (the network, the calibration, the inspection region).

A small declarative schema written here (about 100 lines of standard library) rather than jsonschema or
pydantic: the frozen app would carry a new dependency tree (jsonschema needs the compiled ``rpds-py``; pydantic
``pydantic-core``) for a few dozen fields, and their messages are generic where ours name the field and the
bound in words an operator can act on. Unknown top-level keys are ignored (a newer writer of the same format
version may add some); unknown keys inside the network config are refused, since the network is built from it.
"""

from __future__ import annotations

import math
import reprlib
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_DEPTH = 32  # deepest nesting of lists and objects in a metadata document (ours reach 4)
MAX_SIDE = 100_000  # largest frame side in pixels a region or an alignment reference may name
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 40
_repr.maxlist = _repr.maxdict = 4
_repr.maxlevel = 2


class SchemaError(ValueError):
    """A metadata field is missing, of the wrong type or out of bounds."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class Spec(Protocol):
    def check(self, value: Any, where: str) -> None: ...


def brief(value: Any) -> str:
    """A short ``repr`` of any value for a message (long strings, deep or long containers are cut)."""
    return _repr.repr(value)


@dataclass(frozen=True)
class Int:
    """A whole number (not a bool) in ``[lo, hi]``."""

    lo: int
    hi: int

    def check(self, value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(where, f"{brief(value)} is not a whole number")
        if not self.lo <= value <= self.hi:
            raise SchemaError(where, f"{value} is not between {self.lo} and {self.hi}")


@dataclass(frozen=True)
class Num:
    """A finite number in ``[lo, hi]``, or ``(lo, hi)`` when ``open``."""

    lo: float
    hi: float
    open: bool = False

    def check(self, value: Any, where: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SchemaError(where, f"{brief(value)} is not a finite number")
        inside = self.lo < value < self.hi if self.open else self.lo <= value <= self.hi
        if not inside:
            bounds = f"({self.lo}, {self.hi})" if self.open else f"[{self.lo}, {self.hi}]"
            raise SchemaError(where, f"{value} is not inside {bounds}")


@dataclass(frozen=True)
class Text:
    """A string of at most ``max_len`` characters, one of ``choices`` when given."""

    choices: tuple[str, ...] = ()
    max_len: int = 10_000

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, str):
            raise SchemaError(where, f"{brief(value)} is not text")
        if len(value) > self.max_len:
            raise SchemaError(where, f"text of {len(value)} characters (at most {self.max_len})")
        if self.choices and value not in self.choices:
            raise SchemaError(where, f"{brief(value)} is not supported (only {', '.join(self.choices)})")


@dataclass(frozen=True)
class Flag:
    """true or false."""

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, bool):
            raise SchemaError(where, f"{brief(value)} is not true or false")


@dataclass(frozen=True)
class Maybe:
    """null, or a value of ``spec``."""

    spec: Spec

    def check(self, value: Any, where: str) -> None:
        if value is not None:
            self.spec.check(value, where)


@dataclass(frozen=True)
class Items:
    """A list whose elements are all of ``spec``, ``min_len`` to ``max_len`` long."""

    spec: Spec
    min_len: int = 0
    max_len: int = 10_000_000

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise SchemaError(where, f"{brief(value)} is not a list")
        if not self.min_len <= len(value) <= self.max_len:
            raise SchemaError(where, f"{len(value)} entries (expected {self.min_len} to {self.max_len})")
        for i, item in enumerate(value):
            self.spec.check(item, f"{where}[{i}]")


@dataclass(frozen=True)
class Row:
    """A list of fixed length whose elements have one spec each (e.g. a region ``[x, y, w, h]``)."""

    specs: tuple[Spec, ...]

    def check(self, value: Any, where: str) -> None:
        if not isinstance(value, list) or len(value) != len(self.specs):
            raise SchemaError(where, f"{brief(value)} is not a list of {len(self.specs)} values")
        for i, (spec, item) in enumerate(zip(self.specs, value, strict=True)):
            spec.check(item, f"{where}[{i}]")


@dataclass(frozen=True)
class Obj:
    """A JSON object: the ``fields`` present are checked, ``required`` ones must be; ``closed`` refuses others."""

    fields: dict[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    closed: bool = False

    def check(self, value: Any, where: str) -> None:
        name = where or "metadata"
        if not isinstance(value, dict):
            raise SchemaError(name, f"{brief(value)} is not an object")
        missing = [k for k in self.required if k not in value]
        if missing:
            raise SchemaError(name, f"lacks {', '.join(missing)}")
        unknown = sorted(str(k) for k in value if k not in self.fields)
        if self.closed and unknown:
            raise SchemaError(name, f"unknown field {brief(unknown[0])}")
        for key, spec in self.fields.items():
            if key in value:
                spec.check(value[key], f"{where}.{key}" if where else key)


def check_document(doc: Any, spec: Obj) -> None:
    """Check a whole metadata document: its nesting depth first, then ``spec``.

    Raises:
        SchemaError: naming the first field that does not fit, and why.
    """
    if _depth(doc) > MAX_DEPTH:
        raise SchemaError("metadata", f"nested deeper than {MAX_DEPTH} levels")
    spec.check(doc, "")


def _depth(doc: Any) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((v, level + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


SIDE = Int(0, MAX_SIDE)
REGION = Row((SIDE, SIDE, Int(1, MAX_SIDE), Int(1, MAX_SIDE)))  # x, y, width, height in frame pixels
FRACTION = Num(0.0, 1.0)
NETWORK = Obj(
    {"preset": Text(max_len=64), "rec_width": Int(1, 256), "disc_width": Int(1, 256),
     "image_height": Int(32, 4096), "image_width": Int(32, 4096)},
    required=("preset", "rec_width", "disc_width", "image_height", "image_width"), closed=True,
)  # fmt: skip
CALIBRATION = Obj(
    {"threshold": Num(0.0, 1.0, open=True), "target_false_reject": FRACTION, "margin": Num(-1.0, 1.0),
     "method": Text(), "n_good": Int(0, 10**9), "n_defect": Int(0, 10**9), "f1_threshold": Maybe(FRACTION),
     "escape_rate": Maybe(FRACTION), "good_median": FRACTION, "good_max": FRACTION, "good_std": FRACTION,
     "note": Text()},
    required=("threshold", "target_false_reject", "margin", "method", "n_good", "n_defect", "f1_threshold",
              "escape_rate", "good_median", "good_max", "good_std", "note"),
)  # fmt: skip
ALIGNMENT = Obj(
    {"reference_png": Text(max_len=64_000_000), "scale": Num(0.05, 1.0),
     "frame_shape": Row((Int(1, MAX_SIDE), Int(1, MAX_SIDE))), "roi": REGION},
    required=("reference_png", "scale", "frame_shape", "roi"),
)  # fmt: skip
SCORING = Obj(
    {"method": Text(choices=("paper", "topk", "normalized-paper", "normalized-topk")), "window": Int(1, 255),
     "topk": Num(0.0, 1.0), "chosen_on": Text(max_len=1000), "validation": Maybe(Obj())},
    required=("method",),
)  # fmt: skip  # draem_core.scoring.Scoring.to_dict() (its own check() rejects an even window or a zero share)
MODEL_METADATA = Obj(
    {"model": NETWORK, "name": Text(max_len=1000), "channel_order": Text(choices=("RGB",)),
     "calibration": Maybe(CALIBRATION), "training": Obj(), "dataset_fingerprint": Text(max_len=128),
     "software_version": Text(max_len=64), "created": Text(max_len=64), "format": Text(max_len=64),
     "format_version": Int(1, 10**6),
     "extra": Obj({"version": Text(max_len=64), "registry_parent": Maybe(Text(max_len=64))}),
     "roi": Maybe(REGION), "alignment": Maybe(ALIGNMENT), "scoring": Maybe(SCORING)},
    required=("model",),
)  # fmt: skip
PARAM_GROUP = Obj(
    {"lr": Num(0.0, 1.0), "betas": Row((Num(0.0, 1.0), Num(0.0, 1.0))), "eps": Num(0.0, 1.0),
     "weight_decay": Num(0.0, 1e6), "params": Items(Int(0, 10**7))},
    required=("lr", "params"),
)  # fmt: skip
CHECKPOINT_METADATA = Obj(
    {"model": NETWORK, "step": Int(0, 10**12), "elapsed_s": Num(0.0, 1e12), "budget": Obj(),
     "train_images": Items(Text(max_len=65_536)), "holdout_images": Items(Text(max_len=65_536)),
     "settings": Obj({"roi": Maybe(REGION), "align": Flag(), "align_scale": Num(0.05, 1.0)}),
     "param_groups": Items(PARAM_GROUP, 1, 64), "format_version": Int(1, 10**6)},
    required=("model", "step", "elapsed_s", "budget", "train_images", "holdout_images"),
)  # fmt: skip
TENSOR_ENTRY = Obj(
    {"dtype": Text(max_len=16), "shape": Items(Int(0, 2**40), 0, 8),
     "data_offsets": Row((Int(0, 2**62), Int(0, 2**62)))},
    required=("dtype", "shape", "data_offsets"),
)  # fmt: skip  # one tensor's entry in a safetensors header
