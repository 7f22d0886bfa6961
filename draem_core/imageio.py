"""Reading and writing images of any kind users meet: jpg/png/bmp/tif, 1/3/4 channels, 8/16-bit, any size.

Arrays are returned in RGB order (OpenCV decodes BGR; we convert once here so no caller has to).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from draem_core.errors import DraemError, ImageReadError
from draem_core.imageheader import HeaderError, image_size

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MAX_IMAGE_PIXELS = 100_000_000  # default largest image read (width x height): above any machine-vision camera
PIXEL_LIMIT_ENV = "DRAEM_INSPECT_MAX_IMAGE_PIXELS"  # environment variable that changes that limit
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")  # write_bytes_atomic's temp files (mkstemp)


def list_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (sorted), by suffix, case-insensitive; see :func:`scan_images` for the
    sub-folders that could not be read."""
    return scan_images(folder, recursive)[0]


def scan_images(folder: str | Path, recursive: bool = True) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Image files under ``folder`` (sorted) and the folders that could not be listed, with the reason.

    Symbolic links to folders are followed once (a link back up the tree is not a loop).
    """
    found: list[Path] = []
    failed: list[tuple[Path, str]] = []
    pending, seen = [Path(folder)], set()
    while pending:
        current = pending.pop()
        try:
            key = (current.stat().st_dev, current.stat().st_ino)
            if key in seen:
                continue
            seen.add(key)
            with os.scandir(current) as entries:
                for entry in entries:
                    _sort_entry(entry, recursive, pending, found, failed)
        except OSError as exc:
            failed.append((current, exc.strerror or str(exc)))
    return sorted(found), sorted(failed)


def _sort_entry(entry: os.DirEntry, recursive: bool, pending: list, found: list, failed: list) -> None:
    """File an entry of a listed folder: a folder to list, an image, or a link that leads nowhere."""
    try:
        is_dir = entry.is_dir()
        if not is_dir and entry.is_symlink():
            os.stat(entry.path)  # raises for a link to nothing (an unmounted share) or a link loop
    except OSError as exc:
        if recursive or Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
            failed.append((Path(entry.path), exc.strerror or str(exc)))
        return
    if is_dir:
        if recursive:
            pending.append(Path(entry.path))
    elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES and entry.is_file():
        found.append(Path(entry.path))


def max_image_pixels() -> int:
    """The largest image (width x height) read: :data:`MAX_IMAGE_PIXELS`, or the environment's
    ``DRAEM_INSPECT_MAX_IMAGE_PIXELS``.

    Raises:
        DraemError: the environment variable is not a positive whole number.
    """
    text = os.environ.get(PIXEL_LIMIT_ENV, "").strip()
    if not text:
        return MAX_IMAGE_PIXELS
    value = int(text) if text.isdigit() else 0
    if value < 1:
        msg = f"{PIXEL_LIMIT_ENV}={text!r} is not a positive whole number of pixels"
        raise DraemError(msg)
    return value


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image as ``(H, W)`` or ``(H, W, 3)`` RGB, uint8 or uint16 (alpha dropped).

    The size declared in the file header is checked before anything is decoded.

    Args:
        path: the image file.
        max_pixels: refuse images larger than this (width x height); None = :func:`max_image_pixels`.

    Raises:
        ImageReadError: the file is missing, empty, too large, of another format, or cannot be decoded.
    """
    path = Path(path)
    data = _read_checked(path, max_pixels or max_image_pixels())
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise ImageReadError(path, "not a decodable image (corrupt or unsupported format)")
        channels = image.shape[2] if image.ndim == 3 else 1
        if channels not in (1, 2, 3, 4):
            raise ImageReadError(path, f"{channels}-channel image (expected mono, RGB or RGBA)")
        return to_rgb(image, bgr=True)
    except cv2.error as exc:
        reason = (exc.err or str(exc)).strip().splitlines()[-1]
        raise ImageReadError(path, f"not a decodable image ({reason})") from exc


def _read_checked(path: Path, max_pixels: int) -> np.ndarray:
    """The bytes of an image file whose header declares a size within ``max_pixels``."""
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                raise ImageReadError(path, "file is empty")
            width, height = image_size(fh)
            if width < 1 or height < 1 or width * height > max_pixels:
                raise ImageReadError(path, _size_reason(width, height, max_pixels))
            fh.seek(0)
            return np.frombuffer(fh.read(), dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from exc
    except HeaderError as exc:
        raise ImageReadError(path, str(exc)) from exc


def _size_reason(width: int, height: int, max_pixels: int) -> str:
    if width < 1 or height < 1:
        return f"the header declares {width}x{height} pixels (an empty image)"
    return (f"{width}x{height} pixels ({width * height / 1e6:.1f} MP) exceed the limit of {max_pixels / 1e6:g} MP "
            f"(set {PIXEL_LIMIT_ENV} to raise it)")  # fmt: skip


def to_rgb(image: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Normalise channels: ``(H, W)`` stays mono, 3/4 channels become RGB without alpha."""
    if image.ndim == 3 and image.shape[2] <= 2:  # mono, or mono + alpha
        image = image[:, :, 0]
    if image.ndim == 3:
        if image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if bgr else cv2.COLOR_RGBA2RGB)
        elif bgr:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.dtype not in (np.uint8, np.uint16):
        image = _float_to_uint8(image)
    return np.ascontiguousarray(image)


def _float_to_uint8(image: np.ndarray) -> np.ndarray:
    image = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if image.max() > 1.0:
        image = image / max(float(image.max()), 1.0)
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from any frame: mono is replicated, 16-bit scaled by its bit depth."""
    if image.dtype == np.uint16:
        peak = int(image.max())
        bits = max(8, peak.bit_length())  # 10/12/16-bit data stored in 16-bit containers
        image = (image.astype(np.uint32) * 255 // ((1 << bits) - 1)).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = _float_to_uint8(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def read_images(paths: Iterable[Path]) -> tuple[list[np.ndarray], list[tuple[Path, str]]]:
    """Read many images; unreadable ones are returned in a list of ``(path, reason)``, never dropped silently."""
    images, failed = [], []
    for path in paths:
        try:
            images.append(read_image(path))
        except ImageReadError as exc:
            failed.append((Path(path), exc.reason))
    return images, failed


def write_image_atomic(path: str | Path, image: np.ndarray) -> Path:
    """Write an RGB or mono image; the file appears complete or not at all (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(path.suffix or ".png", image)
    if not ok:
        raise ImageReadError(path, "could not encode image")
    write_bytes_atomic(path, encoded.tobytes())
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically: a temp file in the same folder, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftover_temp_files(folder: str | Path, target: str | None = None, min_age_s: float = 0.0) -> list[Path]:
    """Remove the temp files :func:`write_bytes_atomic` leaves in ``folder`` when the process is killed mid-write
    (``.<name>.<8 random characters>.tmp``; a checkpoint's can be 150 MB). Best effort: a file that cannot be
    removed stays.

    Args:
        folder: where the writes went.
        target: only the leftovers of writes to this file name; None = of any file.
        min_age_s: only files not modified for this long (another process may be writing right now).

    Returns:
        The files removed.
    """
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or (target is not None and match["target"] != target):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime >= min_age_s:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
