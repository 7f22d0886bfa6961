"""Reading images safely: sizes from the header before decoding, a configurable pixel limit, OpenCV errors as
one line; listing folders with the ones that cannot be read; removing our own temp files of dead writes."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from bad_inputs import tiff_header_only

from draem_core.errors import DraemError, ImageReadError
from draem_core.imageheader import HeaderError, image_size
from draem_core.imageio import (
    PIXEL_LIMIT_ENV,
    read_image,
    remove_leftover_temp_files,
    scan_images,
    write_bytes_atomic,
)

RGB = (np.random.default_rng(1).random((37, 53, 3)) * 255).astype(np.uint8)


def _size(data: bytes) -> tuple[int, int]:
    return image_size(io.BytesIO(data))


@pytest.mark.parametrize("ext, image", [(".png", RGB), (".jpg", RGB), (".bmp", RGB), (".tif", RGB),
                                        (".png", RGB[..., 0].astype(np.uint16)), (".tif", RGB[..., :1]),
                                        (".bmp", RGB[..., 0])])  # fmt: skip
def test_header_sizes_of_files_opencv_writes(ext, image) -> None:
    ok, data = cv2.imencode(ext, image)
    assert ok and _size(data.tobytes()) == (53, 37)


@pytest.mark.parametrize("fmt, options", [("JPEG", {"progressive": True}), ("BMP", {}), ("TIFF", {"big_tiff": True}),
                                          ("TIFF", {"compression": "tiff_lzw"}), ("PNG", {"optimize": True})])  # fmt: skip
def test_header_sizes_of_files_pillow_writes(fmt, options) -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(RGB).save(out, fmt, **options)
    assert _size(out.getvalue()) == (53, 37)


def test_big_endian_tiff_and_unknown_formats() -> None:
    assert _size(tiff_header_only(1234, 567, big_endian=True)) == (1234, 567)
    for data in (b"GIF89a" + b"\0" * 30, b"\xff\xd8\xff\xd9", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDX", b""):
        with pytest.raises(HeaderError):
            _size(data)


def test_a_huge_image_is_refused_from_its_header_without_decoding(tmp_path, monkeypatch) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(tiff_header_only(30_000, 30_000))  # 900 MP declared in 26 bytes

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before the size was checked")

    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(ImageReadError, match=r"30000x30000 pixels \(900.0 MP\) exceed the limit of 100 MP"):
        read_image(path)


def test_the_pixel_limit_is_configurable(tmp_path, monkeypatch) -> None:
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), RGB)
    assert read_image(path).shape == (37, 53, 3)
    with pytest.raises(ImageReadError, match="exceed the limit"):
        read_image(path, max_pixels=1000)
    monkeypatch.setenv(PIXEL_LIMIT_ENV, "1000")
    with pytest.raises(ImageReadError, match=PIXEL_LIMIT_ENV):
        read_image(path)
    monkeypatch.setenv(PIXEL_LIMIT_ENV, "lots")
    with pytest.raises(DraemError, match="not a positive whole number"):
        read_image(path)


def test_an_opencv_error_is_one_line(tmp_path) -> None:
    import struct

    path = tmp_path / "wide.bmp"  # 60000 x 60000 declared: OpenCV's own size assertion fails (cv2.error)
    header = struct.pack("<IHHI", 64, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 60_000, 60_000, 1, 24, 0, 0, 0, 0, 0, 0)
    path.write_bytes(b"BM" + header + b"\0" * 10)
    with pytest.raises(ImageReadError) as info:
        read_image(path, max_pixels=10**10)
    assert "not a decodable image" in str(info.value) and "\n" not in str(info.value)


def test_a_file_that_is_empty_or_of_another_format(tmp_path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "anim.png").write_bytes(b"GIF89a" + b"\0" * 40)
    with pytest.raises(ImageReadError, match="empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="unsupported image format"):
        read_image(tmp_path / "anim.png")


def _tree(root: Path) -> Path:
    for name in ("a.png", "sub/b.jpg", "sub/deeper/c.tif", "notes.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    os.symlink("loop", root / "loop")  # a folder link to itself: ELOOP even for root
    os.symlink("/nonexistent/share", root / "share")  # an unmounted network share
    os.symlink(".", root / "sub" / "again")  # a link back up the tree: followed once, not forever
    return root


def test_scan_lists_images_and_the_folders_it_cannot_read(tmp_path) -> None:
    images, failed = scan_images(_tree(tmp_path))
    assert [p.relative_to(tmp_path).as_posix() for p in images] == ["a.png", "sub/b.jpg", "sub/deeper/c.tif"]
    assert sorted(p.name for p, _ in failed) == ["loop", "share"]
    assert all(reason for _, reason in failed)
    assert scan_images(tmp_path, recursive=False) == ([tmp_path / "a.png"], [])  # links matter when recursing


def test_leftover_temp_files_of_our_writes_are_removed(tmp_path) -> None:
    write_bytes_atomic(tmp_path / "m.safetensors", b"done")
    ours = [tmp_path / ".m.safetensors.ab12cd_9.tmp", tmp_path / ".m.ckpt.safetensors.zz99zz99.tmp"]
    others = [tmp_path / "m.tmp", tmp_path / ".m.safetensors.tmp", tmp_path / ".m.safetensors.TOOLONG12.tmp"]
    for p in ours + others:
        p.write_bytes(b"partial")
    assert remove_leftover_temp_files(tmp_path, "m.safetensors") == [ours[0]]
    old = time.time() - 3600
    os.utime(ours[1], (old, old))
    assert remove_leftover_temp_files(tmp_path, min_age_s=600) == [ours[1]]
    assert all(p.exists() for p in others) and (tmp_path / "m.safetensors").read_bytes() == b"done"
