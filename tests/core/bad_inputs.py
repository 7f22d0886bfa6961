"""Seeded generators of bad inputs: model files, image files and dataset layouts (for the fuzz suite).

Every generator is deterministic (fixed seeds) and returns small cases: the whole suite writes a few MB.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors.torch import save as st_save

from draem_core.calibration import calibrate
from draem_core.config import preset
from draem_core.model import DraemModel
from draem_core.modelfile import META_KEY, ModelMetadata

MICRO = preset("micro", (32, 32))  # smallest network: a probe inference takes milliseconds

# --- model files ----------------------------------------------------------------------------------------


def micro_model() -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata document of a valid, calibrated micro model (random weights, seed 0)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DraemModel(MICRO).eval()
    cal = calibrate(np.linspace(0.2, 0.3, 20))
    meta = ModelMetadata(model=MICRO, name="fuzz", calibration=cal.to_dict(), dataset_fingerprint="0" * 64,
                         created="2026-01-01T00:00:00Z", roi=(2, 2, 28, 28))  # fmt: skip
    return {f"model.{k}": v.clone() for k, v in model.state_dict().items()}, json.loads(meta.to_json())


def model_bytes(tensors: dict[str, torch.Tensor], doc: object, raw_meta: str | None = None) -> bytes:
    """A safetensors file of ``tensors`` whose draem-inspect metadata is ``doc`` as JSON (or ``raw_meta``)."""
    text = raw_meta if raw_meta is not None else json.dumps(doc)
    return st_save({k: v.contiguous() for k, v in tensors.items()}, metadata={META_KEY: text})


def edit_header(data: bytes, edit: Callable[[dict], object]) -> bytes:
    """The file with its JSON header replaced by ``edit(header)`` (offsets of the data left as they were)."""
    n = int.from_bytes(data[:8], "little")
    header = edit(json.loads(data[8 : 8 + n]))
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def deep(levels: int) -> object:
    value: object = 0
    for _ in range(levels):
        value = [value]
    return value


BAD_VALUES = [None, True, "x", "4", -4, 0, 1.5, 4096, 200_000, 10**30, math.nan, math.inf, [], [0, 0, 0, 0],
              [1, 2, 3, -4], {}, {"a": 1}, deep(60), "x" * 20_000]  # fmt: skip
FIELDS = [("model",), ("model", "preset"), ("model", "rec_width"), ("model", "disc_width"), ("model", "image_height"),
          ("model", "image_width"), ("model", "surprise"), ("name",), ("channel_order",), ("calibration",),
          ("calibration", "threshold"), ("calibration", "n_good"), ("calibration", "good_max"),
          ("calibration", "f1_threshold"), ("calibration", "note"), ("training",), ("dataset_fingerprint",),
          ("format",), ("format_version",), ("extra",), ("extra", "version"), ("roi",), ("alignment",),
          ("created",)]  # fmt: skip


def _set(doc: dict, path: tuple[str, ...], value: object) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()


def field_cases() -> Iterator[tuple[str, dict]]:
    """Each metadata field set to each bad value, and deleted: ``(case id, metadata document)``."""
    _, doc = micro_model()
    for path in FIELDS:
        for i, value in enumerate([*BAD_VALUES, _DELETE]):
            yield f"{'.'.join(path)}={i}", _set(doc, path, value)


def container_cases(seed: int = 16) -> Iterator[tuple[str, bytes]]:
    """The file around the metadata broken: truncated, bytes flipped, header entries and metadata mangled."""
    rng = np.random.default_rng(seed)
    tensors, doc = micro_model()
    good = model_bytes(tensors, doc)
    n = int.from_bytes(good[:8], "little")
    for cut in sorted({0, 4, 8, 9, n // 2, n + 7, n + 8, *rng.integers(9, len(good), 10).tolist()}):
        yield f"cut{cut}", good[:cut]
    for i in range(25):
        data = bytearray(good)
        at = int(rng.integers(8, 8 + n))
        data[at] = int(rng.integers(0, 256))
        yield f"flip{i}@{at}", bytes(data)
    for length in (0, 1, n - 1, n + 1, len(good), 2**40, 2**63):
        yield f"length{length}", length.to_bytes(8, "little") + good[8:]
    name = next(iter(tensors))
    for i, entry in enumerate(["x", 5, [], None, {"dtype": "F32"}, {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]},
                               {"dtype": "F32", "shape": [1], "data_offsets": ["a", 4]},
                               {"dtype": "F32", "shape": [1], "data_offsets": [0, 10**20]},
                               {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]},
                               {"dtype": "F32", "shape": "x", "data_offsets": [0, 4]},
                               {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]},
                               {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}]):  # fmt: skip
        yield f"entry{i}", edit_header(good, lambda h, e=entry: {**h, name: e})
    for i, meta in enumerate([[], "x", 5, {META_KEY: 5}, {META_KEY: ["a"]}, None]):
        yield f"dunder{i}", edit_header(good, lambda h, m=meta: {**h, "__metadata__": m})
    for i, raw in enumerate(["[1, 2]", "5", '"s"', "null", "{", "[" * 5000 + "]" * 5000, '{"a":' * 100_000 + "1" + "}" * 100_000,
                             '{"format": "\\ud800"}', json.dumps({**doc, "format": "draem-inspect/checkpoint"})]):  # fmt: skip
        yield f"raw{i}", model_bytes(tensors, None, raw_meta=raw)
    yield "header-array", edit_header(good, lambda h: [h])


def tensor_cases() -> Iterator[tuple[str, bytes]]:
    """Weights missing, extra, misshapen, of the wrong kind, not finite, or finite but giving NaN output."""
    tensors, doc = micro_model()
    conv = next(k for k in tensors if k.endswith("0.weight"))
    var = next(k for k in tensors if k.endswith("running_var"))
    edits: dict[str, Callable[[dict], None]] = {
        "missing": lambda t: t.pop(conv),
        "extra": lambda t: t.__setitem__("model.surprise", torch.zeros(3)),
        "shape": lambda t: t.__setitem__(conv, torch.zeros(2, 2)),
        "nan": lambda t: t[conv].__setitem__((0,), math.nan),
        "inf": lambda t: t[conv].__setitem__((0,), math.inf),
        "int32": lambda t: t.__setitem__(conv, t[conv].to(torch.int32)),
        "bool": lambda t: t.__setitem__(conv, t[conv] > 0),
        "uint8": lambda t: t.__setitem__(conv, t[conv].to(torch.uint8)),
        "fp16": lambda t: t.__setitem__(conv, t[conv].half()),  # valid: fp16 weights load as float32
        "bf16": lambda t: t.__setitem__(conv, t[conv].bfloat16()),  # valid too
        "huge": lambda t: [v.fill_(1e30) for k, v in t.items() if k.endswith("weight")],
        "negative-variance": lambda t: t[var].fill_(-1.0),
        "zeros": lambda t: [v.zero_() for v in t.values() if v.is_floating_point()],  # valid, if useless
        "float-counter": lambda t: t.__setitem__(next(k for k in t if k.endswith("num_batches_tracked")),
                                                 torch.zeros((), dtype=torch.float32)),  # fmt: skip
        "no-model-tensors": lambda t: t.clear(),
    }
    for name, edit in edits.items():
        t = {k: v.clone() for k, v in tensors.items()}
        edit(t)
        yield f"tensor-{name}", model_bytes(t, doc)


# --- images -----------------------------------------------------------------------------------------------


def _encoded(ext: str, image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok, ext
    return data.tobytes()


def _pillow(rgb: np.ndarray, mode: str, fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).convert(mode).save(out, fmt)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def tiff_header_only(width: int, height: int, big_endian: bool = False) -> bytes:
    """A minimal TIFF whose first IFD holds only ImageWidth and ImageLength (LONG)."""
    o = ">" if big_endian else "<"
    ifd = struct.pack(o + "H", 2) + struct.pack(o + "HHII", 256, 4, 1, width) + struct.pack(o + "HHII", 257, 4, 1, height)
    return (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(o + "I", 8) + ifd + struct.pack(o + "I", 0)


def _patch_size(data: bytes, ext: str, width: int, height: int) -> bytes:
    out = bytearray(data)
    if ext == ".png":
        out[16:24] = struct.pack(">II", width, height)
    elif ext == ".bmp":
        out[18:26] = struct.pack("<ii", width, height)
    elif ext == ".jpg":
        at = data.index(b"\xff\xc0") + 5
        out[at : at + 4] = struct.pack(">HH", min(height, 65535), min(width, 65535))
    else:
        return tiff_header_only(width, height)
    return bytes(out)


def image_cases(seed: int = 17) -> Iterator[tuple[str, bytes]]:
    """Images of each format and kind, then truncated, bytes flipped, sizes patched; and oddities."""
    rng = np.random.default_rng(seed)
    rgb = (rng.random((30, 40, 3)) * 255).astype(np.uint8)
    bases = {f"{kind}{ext}": (ext, _encoded(ext, img)) for ext in (".png", ".bmp", ".tif", ".jpg")
             for kind, img in (("rgb", rgb), ("mono", rgb[..., 0]), ("rgba", np.dstack([rgb, rgb[..., :1]])),
                               ("mono16", rgb[..., 0].astype(np.uint16) * 257))
             if not (ext in (".jpg", ".bmp") and kind in ("rgba", "mono16"))}  # fmt: skip
    for name, (ext, data) in bases.items():
        yield f"{name}-valid", data
        for cut in rng.integers(1, len(data), 3).tolist():
            yield f"{name}-cut{cut}", data[:cut]
        for i in range(4):
            flipped = bytearray(data)
            at = int(rng.integers(0, min(len(data), 64) if i < 2 else len(data)))
            flipped[at] ^= int(rng.integers(1, 256))
            yield f"{name}-flip{at}", bytes(flipped)
        yield f"{name}-huge", _patch_size(data, ext, 30_000, 30_000)
        yield f"{name}-zero", _patch_size(data, ext, 0, 30)
    yield "empty", b""
    yield "text", b"this is not an image\n" * 10
    for i in range(5):
        yield f"noise{i}", rng.integers(0, 256, int(rng.integers(1, 4000)), dtype=np.uint8).tobytes()
    yield "png-30000x30000", _png_header_only(30_000, 30_000)
    yield "tiff-mm-huge", tiff_header_only(60_000, 60_000, big_endian=True)
    yield "tiff-float-nan", _encoded(".tif", np.where(rgb[..., 0] > 128, np.nan, 0.5).astype(np.float32))
    for mode, fmt in (("LA", "TIFF"), ("LA", "PNG"), ("I", "TIFF"), ("1", "TIFF"), ("CMYK", "TIFF"), ("P", "PNG"),
                      ("F", "TIFF")):  # fmt: skip
        yield f"pillow-{mode}.{fmt}", _pillow(rgb, mode, fmt)
    yield "png-1x999", _encoded(".png", rgb[:1, :1].repeat(999, axis=1))
    yield "png-999x1", _encoded(".png", rgb[:1, :1].repeat(999, axis=0))
    yield "jpeg-no-frame", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 7 + b"\xff\xd9"


# --- dataset layouts --------------------------------------------------------------------------------------


@dataclass
class Layout:
    """A dataset tree on disk and what a correct reader must find in it."""

    root: Path
    readable: dict[str, int] = field(default_factory=dict)  # class folder -> images that can be read
    broken_folders: list[Path] = field(default_factory=list)  # folders that cannot be listed
    refuse: bool = False  # a whole class cannot be read, or nothing can: the reader must refuse


def _image(path: Path, ok: bool, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = _encoded(".png", (rng.random((36, 36, 3)) * 255).astype(np.uint8))
    path.write_bytes(data if ok else data[: len(data) // 3])


def _loop(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(path.name, path)  # a link to itself: listing it fails with ELOOP, even for root
    return path


def training_layout(root: Path, seed: int) -> Layout:
    """A folder of good images with corrupt files, non-UTF-8 names, unreadable and empty sub-folders."""
    rng = np.random.default_rng(seed)
    good = root / "train" / "good" if seed % 2 else root
    layout = Layout(root)
    n_ok = int(rng.integers(0, 4))
    for i in range(n_ok):
        _image(good / f"{i:03d}.png", True, rng)
    for i in range(int(rng.integers(0, 3))):
        _image(good / f"bad{i}.png", False, rng)
    if rng.random() < 0.5:
        _image(Path(os.fsdecode(os.fsencode(good) + b"/caf\xe9_\xff.png")), True, rng)
        n_ok += 1
    if rng.random() < 0.5:
        _image(good / "day2" / "100.png", True, rng)
        n_ok += 1
    if rng.random() < 0.5:
        layout.broken_folders.append(_loop(good / "day3"))
    if rng.random() < 0.3:
        (good / "empty").mkdir(parents=True, exist_ok=True)
    good.mkdir(parents=True, exist_ok=True)
    layout.readable = {"good": n_ok}
    layout.refuse = n_ok == 0
    return layout


def test_layout(root: Path, seed: int) -> Layout:
    """A test folder: good and defect classes, some empty, unreadable, all-corrupt or files; masks or not."""
    rng = np.random.default_rng(seed)
    layout = Layout(root)
    for kind in ["good", *[f"defect{i}" for i in range(int(rng.integers(0, 3)))]]:
        state = rng.choice(["ok", "ok", "ok", "loop", "corrupt", "empty", "file"])
        folder = root / "test" / kind
        if state == "loop":
            layout.broken_folders.append(_loop(folder))
            layout.refuse = True
        elif state == "file":
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.write_bytes(b"not a folder")
        elif state == "empty":
            folder.mkdir(parents=True)
        else:
            n = int(rng.integers(1, 3))
            for i in range(n):
                _image(folder / f"{i:03d}.png", state == "ok", rng)
            layout.readable[kind] = n if state == "ok" else 0
            layout.refuse |= state == "corrupt"
        if kind != "good" and state == "ok" and rng.random() < 0.5:
            masks = root / "ground_truth" / kind
            if rng.random() < 0.3:
                layout.broken_folders.append(_loop(masks))
                layout.refuse = True
            else:
                for i in range(layout.readable[kind]):
                    _image(masks / f"{i:03d}_mask.png", True, rng)
    (root / "test").mkdir(parents=True, exist_ok=True)
    layout.refuse |= not any(layout.readable.values())
    return layout


test_layout.__test__ = False  # type: ignore[attr-defined]  # a generator, not a test
