"""Reading and writing images of any kind users meet: jpg/png/bmp/tif, 1/3/4 channels, 8/16-bit, any size.

Arrays are returned in RGB order (OpenCV decodes BGR; we convert once here so no caller has to).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from draem_core.errors import ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


def list_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (sorted), by suffix, case-insensitive."""
    folder = Path(folder)
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as ``(H, W)`` or ``(H, W, 3)`` RGB, uint8 or uint16 (alpha dropped).

    Raises:
        ImageReadError: the file is missing, empty or cannot be decoded.
    """
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)  # works with non-ASCII paths, unlike cv2.imread on Windows
    except OSError as exc:
        raise ImageReadError(path, exc.strerror or str(exc)) from exc
    if data.size == 0:
        raise ImageReadError(path, "file is empty")
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ImageReadError(path, "not a decodable image (corrupt or unsupported format)")
    return to_rgb(image, bgr=True)


def to_rgb(image: np.ndarray, bgr: bool = False) -> np.ndarray:
    """Normalise channels: ``(H, W)`` stays mono, 3/4 channels become RGB without alpha."""
    if image.ndim == 3 and image.shape[2] == 1:
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
    image = image.astype(np.float32)
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
