"""Image dimensions from the file header, read before anything is decoded (PNG, JPEG, BMP, TIFF, BigTIFF).

A 2.6 MB PNG can declare 30000x30000 pixels: OpenCV would decode it into gigabytes before anyone could say no.
Reading the few header bytes first lets :func:`draem_core.imageio.read_image` refuse it at once.

Written by hand (about 80 lines): Pillow reads headers lazily too, but applies its own process-wide
decompression-bomb limit (an error above 179 MP) that would override ours and is shared with matplotlib;
``imagesize`` does not read BMP.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}  # frame headers
_JPEG_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # markers without a length field (TEM, RSTn)
_MAX_JPEG_SEGMENTS = 1000  # a real file reaches its frame header within a few dozen segments


class HeaderError(ValueError):
    """The header is not one of the formats read here, or it is truncated or inconsistent."""


def image_size(fh: BinaryIO) -> tuple[int, int]:
    """``(width, height)`` declared by the header of the image file open in ``fh`` (binary, at its start).

    Raises:
        HeaderError: unknown format, truncated or malformed header.
    """
    head = fh.read(32)
    if head.startswith(_PNG):
        return _png(head)
    if head.startswith(b"\xff\xd8"):
        fh.seek(2)
        return _jpeg(fh)
    if head.startswith(b"BM"):
        return _bmp(head)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        fh.seek(0)
        return _tiff(fh)
    msg = "unsupported image format (expected PNG, JPEG, BMP or TIFF)"
    raise HeaderError(msg)


def _unpack(fmt: str, data: bytes, offset: int = 0) -> tuple:
    try:
        return struct.unpack_from(fmt, data, offset)
    except struct.error as exc:
        msg = "image header is truncated"
        raise HeaderError(msg) from exc


def _png(head: bytes) -> tuple[int, int]:
    if head[12:16] != b"IHDR":
        msg = "PNG without its IHDR header chunk"
        raise HeaderError(msg)
    return _unpack(">II", head, 16)


def _bmp(head: bytes) -> tuple[int, int]:
    (dib_size,) = _unpack("<I", head, 14)
    if dib_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return _unpack("<HH", head, 18)
    width, height = _unpack("<ii", head, 18)
    return abs(width), abs(height)  # a negative height means top-down rows


def _jpeg(fh: BinaryIO) -> tuple[int, int]:
    for _ in range(_MAX_JPEG_SEGMENTS):
        byte = fh.read(1)
        while byte == b"\xff":  # fill bytes before a marker
            byte = fh.read(1)
        if not byte:
            break
        marker = byte[0]
        if marker in _JPEG_NO_LENGTH:
            continue
        (length,) = _unpack(">H", fh.read(2))
        if marker in _JPEG_SOF:
            height, width = _unpack(">xHH", fh.read(5))
            return width, height
        if length < 2 or marker == 0xD9:
            break
        fh.seek(length - 2, 1)
        if fh.read(1) != b"\xff":
            break
    msg = "JPEG without a frame header (truncated or corrupt)"
    raise HeaderError(msg)


def _tiff(fh: BinaryIO) -> tuple[int, int]:
    head = fh.read(16)
    order = "<" if head[:2] == b"II" else ">"
    big = _unpack(order + "H", head, 2)[0] == 43
    offset = _unpack(order + ("8xQ" if big else "4xI"), head)[0]
    count_fmt, entry_size = ("Q", 20) if big else ("H", 12)
    fh.seek(offset)
    (count,) = _unpack(order + count_fmt, fh.read(8 if big else 2))
    entries = fh.read(min(count, 4096) * entry_size)
    size: dict[int, int] = {}
    for i in range(len(entries) // entry_size):
        tag, kind = _unpack(order + "HH", entries, i * entry_size)
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT, LONG or LONG8
            value_at = i * entry_size + (12 if big else 8)
            fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
            if fmt is None:
                msg = f"TIFF image size stored as type {kind}"
                raise HeaderError(msg)
            size[tag] = _unpack(order + fmt, entries, value_at)[0]
    if len(size) != 2:
        msg = "TIFF without image width and height"
        raise HeaderError(msg)
    return size[256], size[257]
