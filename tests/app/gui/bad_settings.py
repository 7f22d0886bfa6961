"""Seeded odd QSettings ini files for the fuzz suite: every key the window reads set to each odd value, and files
that are odd as a whole. Each case says whether a correct reader must call it unusable (True), must accept
it (False), or may do either (None, e.g. a value QSettings itself turns into nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

# key -> kind of value the window expects there
KEYS = {
    "overlay/heatmap": "bool", "overlay/outline": "bool", "overlay/opacity": "number", "overlay/colormap": "choice",
    "inspection/roi": "roi", "inspection/roi_enabled": "bool",
    "reject/pulse_enabled": "bool", "reject/line": "text", "reject/pulse_s": "number", "reject/tcp_enabled": "bool",
    "reject/host": "text", "reject/port": "number", "reject/max_clients": "number", "reject/token": "text",
    "trace/keep_days": "number", "trace/max_gb": "number", "acquisition/mode": "choice", "inspection/backend": "choice",
    "source/spec": "text", "model/path": "text", "window/geometry": "bytes", "window/state": "bytes",
}  # fmt: skip
ALL = {"bool", "number", "choice", "roi", "text"}  # "bytes" keys are the window's own layout: anything goes
NOT_TEXT = ALL - {"text"}

# ini text of the value -> (kinds for which it is unusable, kinds for which it is fine)
VALUES: list[tuple[str, set[str], set[str]]] = [
    ("lots", NOT_TEXT, {"text"}),
    ("nan", NOT_TEXT, {"text"}),
    ("inf", NOT_TEXT, {"text"}),
    ("-inf", NOT_TEXT, {"text"}),
    ("1e309", NOT_TEXT, {"text"}),
    ("99999999999999999999", {"bool", "choice", "roi"}, {"text"}),
    ("-1", {"choice", "roi"}, {"text"}),
    ("0", {"choice", "roi"}, {"text", "bool"}),
    ("", {"bool", "number", "choice"}, {"text", "roi"}),
    ("a, b, c", ALL, set()),  # QSettings reads a list
    ("@ByteArray(\\x01\\x02\\xff)", ALL, set()),
    ("@Rect(1 2 3 4)", ALL, set()),
    ("@Size(-1 -1)", ALL, set()),
    ("@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x05Junk)", set(), ALL),  # an unknown type: QSettings gives nothing
    ("@Invalid()", set(), ALL),
    ('"quoted, with comma"', NOT_TEXT, {"text"}),
    ("\\0nul", ALL, set()),
    ("x" * 50_000, ALL, set()),  # longer than any path or token
    ("\u00fc\u202e\U0001f600", NOT_TEXT, {"text"}),
    ("true", {"number", "choice", "roi"}, {"bool", "text"}),
    ("1,2,-3,4", ALL, set()),  # a list again (the ROI is stored as one string "x,y,w,h")
    ('"-5,-5,0,0"', {"bool", "number", "choice", "roi"}, {"text"}),
    ('"10,20,30,40"', {"bool", "number", "choice"}, {"text", "roi"}),
]


def value_cases() -> Iterator[tuple[str, str, bool | None]]:
    """``(case id, ini text, unusable?)`` for every key and odd value."""
    for key, kind in KEYS.items():
        section, name = key.split("/")
        for i, (text, bad, fine) in enumerate(VALUES):
            expect = True if kind in bad else False if kind in fine else None
            yield f"{key}={i}", f"[{section}]\n{name}={text}\n", expect


def file_cases(seed: int = 16) -> Iterator[tuple[str, bytes, bool | None]]:
    """``(case id, file bytes, unusable?)``: files odd as a whole (a folder in its place is made by the test)."""
    rng = np.random.default_rng(seed)
    every_key_bad = "".join(f"[{k.split('/')[0]}]\n{k.split('/')[1]}=lots\n" for k in KEYS)
    yield "empty", b"", False
    yield "every-key-unusable", every_key_bad.encode(), True
    for i in range(4):
        yield f"noise{i}", rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes(), None
    yield "invalid-utf8", b"[reject]\nhost=\xff\xfe\xfd\nport=\xc3\n", None
    yield "bom-crlf", b"\xef\xbb\xbf[reject]\r\nport=5021\r\n", None
    yield "unclosed-section", b"[reject\nport=5021\n", None
    yield "no-equals", b"[reject]\nport\ntcp_enabled\n", None
    yield "nul-bytes", b"[reject]\x00\nport=50\x0021\n", None
    yield "huge-line", b"[source]\nspec=" + b"a" * 3_000_000 + b"\n", None
    yield "many-sections", "".join(f"[s{i}]\nk=v\n" for i in range(5_000)).encode(), False
    yield "duplicate-keys", b"[reject]\nport=5021\nport=lots\nport=5022\n", None
    yield "deep-keys", b"[reject]\nport/a/b/c=1\n[overlay]\nopacity/x=0.5\n", None
    yield "window-garbage", b"[window]\ngeometry=@ByteArray(garbage)\nstate=@ByteArray(\\xff\\xff\\xff\\xff)\n", None
    yield "general-section", b"[General]\nx=1\n[%General]\ny=2\n", False
    yield "percent-escapes", b"[reject]\nhost=%U0041%ZZ%\n", None


def write_case(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return path
