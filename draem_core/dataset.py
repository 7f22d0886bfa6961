"""Finding training and test images on disk: MVTec AD category folders or plain folders.

MVTec layout of one category::

    CATEGORY/train/good/*.png
    CATEGORY/test/good/*.png
    CATEGORY/test/<defect_type>/*.png
    CATEGORY/ground_truth/<defect_type>/<stem>_mask.png

A plain test folder holds ``good/`` and ``<defect_type>/`` subfolders (and optionally ``ground_truth/``).
Masks are optional; a mask named ``<stem>.png`` is accepted as well as ``<stem>_mask.png``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from draem_core.alignment import cut_region
from draem_core.errors import DatasetError, shown
from draem_core.imageio import IMAGE_SUFFIXES, read_image, scan_images
from draem_core.region import Roi

GOOD = "good"  # subfolder of good images in MVTec train/ and test/
MASK_FOLDER = "ground_truth"  # folder of defect masks, next to test/ (or inside a plain test folder)
MASK_SUFFIX = "_mask"  # MVTec mask file name: <image stem>_mask.png
_KINDS = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)


@dataclass(frozen=True)
class TestItem:
    """One test image with its label and, when there is one, its ground-truth mask."""

    __test__ = False  # not a pytest test class despite the name

    path: Path  # the image file
    label: int  # 0 = good, 1 = defective
    defect_type: str  # subfolder name: "good" or the defect type (e.g. "crack")
    mask_path: Path | None  # ground-truth mask file, None for good images and unmasked defects


def _require_folder(path: Path) -> None:
    try:
        is_dir = path.is_dir() or stat.S_ISDIR(path.stat().st_mode)  # stat() says why a folder cannot be read
    except FileNotFoundError as exc:
        what = "a link to a folder that is not there" if path.is_symlink() else "folder not found"
        raise DatasetError(path, what) from exc
    except OSError as exc:
        raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not is_dir:
        raise DatasetError(path, "is a file, expected a folder of images")


def good_images(data: str | Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Good training images: ``DATA/train/good`` of an MVTec category, or every image under a plain folder.

    Returns:
        ``(images, skipped)``: the images, sorted, and the sub-folders that could not be read as
        ``(folder, reason)`` (their images are missing from the list; the caller reports them).

    Raises:
        DatasetError: the folder is missing or cannot be read, is an MVTec category without ``train/good``,
            or has no images.
    """
    data = Path(data)
    _require_folder(data)
    folder = data / "train" / GOOD
    if os.path.lexists(folder):
        _require_folder(folder)
    else:
        if (data / "test").is_dir() or (data / MASK_FOLDER).is_dir():
            raise DatasetError(data, "looks like an MVTec category (has test/) but has no train/good folder")
        folder = data
    images, failed = scan_images(folder, recursive=True)
    _refuse_unreadable(folder, failed, "the good images")
    skipped = [(str(p), f"folder cannot be read ({reason}); its images are left out") for p, reason in failed]
    if not images:
        unread = f"; {len(failed)} sub-folders cannot be read ({shown(failed[0][0])}: {failed[0][1]})" if failed else ""
        raise DatasetError(folder, f"no images ({_KINDS}) found{unread}")
    return images, skipped


def _refuse_unreadable(folder: Path, failed: list[tuple[Path, str]], what: str) -> None:
    """Raise DatasetError when ``folder`` itself is among the folders that could not be read."""
    for path, reason in failed:
        if path == folder:
            raise DatasetError(folder, f"cannot be read ({reason}); {what} would be missing")


def test_items(root: str | Path) -> list[TestItem]:
    """Labelled test images of an MVTec category (``ROOT/test``) or a plain folder of type subfolders.

    Items are ordered good first, then defect types alphabetically, files sorted within each.

    Raises:
        DatasetError: the folder is missing, has no type subfolders, or none of them holds images; or a type
            folder (a whole class) or a mask folder cannot be read.
    """
    root = Path(root)
    _require_folder(root)
    base = root / "test" if (root / "test").is_dir() else root
    masks_root = root / MASK_FOLDER if (root / MASK_FOLDER).is_dir() else base / MASK_FOLDER
    types = sorted((p for p in _subfolders(base) if p.name != MASK_FOLDER), key=lambda p: (p.name != GOOD, p.name))
    if not types:
        raise DatasetError(base, f"no subfolders: expected {GOOD}/ and one folder per defect type")
    if masks_root.is_dir():
        _subfolders(masks_root)  # an unreadable mask folder must not silently drop the pixel metrics
    items = [item for folder in types for item in _items_of(folder, masks_root / folder.name)]
    if not items:
        raise DatasetError(base, f"no images ({_KINDS}) in any of {', '.join(p.name for p in types)}")
    return items


def _subfolders(folder: Path) -> list[Path]:
    """The folders in ``folder``; one that cannot be read (or a link that leads nowhere) raises DatasetError."""
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise DatasetError(folder, f"cannot be read ({exc.strerror or exc})") from exc
    out = []
    for p in entries:
        try:
            if p.is_symlink():
                p.stat()
        except OSError as exc:
            raise DatasetError(p, f"cannot be read ({exc.strerror or exc})") from exc
        if p.is_dir():
            out.append(p)
    return out


test_items.__test__ = False  # type: ignore[attr-defined]  # pytest must not collect it when imported


def _items_of(folder: Path, mask_folder: Path) -> list[TestItem]:
    label = 0 if folder.name == GOOD else 1
    masks = _mask_index(mask_folder) if label else {}
    return [
        TestItem(path=p, label=label, defect_type=folder.name, mask_path=masks.get(p.stem))
        for p in _readable_images(folder, "the images of this class")
    ]


def _readable_images(folder: Path, what: str) -> list[Path]:
    images, failed = scan_images(folder, recursive=False)
    for path, reason in failed:
        raise DatasetError(path, f"cannot be read ({reason}); {what} would be missing")
    return images


def _mask_index(mask_folder: Path) -> dict[str, Path]:
    """Image stem -> mask file; ``<stem>_mask.*`` wins over ``<stem>.*`` and PNG over other formats."""
    if not mask_folder.exists() and not mask_folder.is_symlink():
        return {}
    index: dict[str, Path] = {}
    ranked = sorted(
        _readable_images(mask_folder, "the masks of this class"),
        key=lambda p: (p.stem.endswith(MASK_SUFFIX), p.suffix.lower() == ".png"),
    )
    for path in ranked:  # later (better) candidates overwrite earlier ones
        stem = path.stem.removesuffix(MASK_SUFFIX)
        index[stem] = path
    return index


def read_mask(
    path: str | Path, shape: tuple[int, int], roi: Roi | None = None, matrix: np.ndarray | None = None
) -> np.ndarray:
    """A ground-truth mask as ``(H, W)`` bool (any nonzero pixel is defect), cropped to ``roi`` (the model's
    inspection region; cut out in the reference pose when the image's alignment ``matrix`` is given) and resized
    by nearest neighbour.

    Raises:
        ImageReadError: the mask file is missing or cannot be decoded.
    """
    image = read_image(path)
    if image.ndim == 3:
        image = image.max(axis=2)
    height, width = shape
    mask = np.ascontiguousarray(cut_region((image > 0).astype(np.uint8), roi, matrix, nearest=True))
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return mask.astype(bool)


def item_mask(
    item: TestItem, shape: tuple[int, int], roi: Roi | None = None, matrix: np.ndarray | None = None
) -> np.ndarray | None:
    """The mask of a test item at ``(H, W)`` (of its ``roi`` window, aligned by ``matrix`` when given): all
    False for good images, None for a defect without mask."""
    if item.label == 0:
        return np.zeros(shape, dtype=bool)
    return read_mask(item.mask_path, shape, roi, matrix) if item.mask_path is not None else None
