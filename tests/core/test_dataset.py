"""Dataset discovery on tiny MVTec-style and plain trees written to tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from draem_core import dataset
from draem_core.errors import DatasetError


def _write(path: Path, shape: tuple[int, ...], value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, dtype=np.uint8))
    return path


def _mask(path: Path, shape: tuple[int, int], box: tuple[slice, slice]) -> Path:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[box] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), mask)
    return path


@pytest.fixture
def mvtec(tmp_path: Path) -> Path:
    root = tmp_path / "bottle"
    _write(root / "train/good/000.png", (40, 60, 3))
    _write(root / "train/good/001.jpg", (33, 21))  # mono jpg, odd size
    _write(root / "train/good/sub/002.bmp", (16, 16, 3))
    _write(root / "test/good/000.png", (40, 60))
    _write(root / "test/crack/000.png", (40, 60, 3))
    _write(root / "test/crack/001.tif", (20, 30, 3))
    _write(root / "test/scratch/000.jpg", (40, 60))
    _mask(root / "ground_truth/crack/000_mask.png", (40, 60), (slice(0, 10), slice(0, 20)))
    _mask(root / "ground_truth/scratch/000.png", (40, 60), (slice(30, 40), slice(50, 60)))
    return root


def test_good_images_of_a_category_and_of_a_plain_folder(mvtec: Path) -> None:
    names = [p.name for p in dataset.good_images(mvtec)[0]]
    assert names == ["000.png", "001.jpg", "002.bmp"]  # train/good only, recursive, no test images
    assert [p.name for p in dataset.good_images(mvtec / "train/good/sub")[0]] == ["002.bmp"]


def test_test_items_labels_types_and_masks(mvtec: Path) -> None:
    items = dataset.test_items(mvtec)
    summary = [(i.path.name, i.label, i.defect_type, i.mask_path and i.mask_path.name) for i in items]
    assert summary == [
        ("000.png", 0, "good", None),
        ("000.png", 1, "crack", "000_mask.png"),
        ("001.tif", 1, "crack", None),  # defect without a mask
        ("000.jpg", 1, "scratch", "000.png"),  # mask named <stem>.png
    ]


def test_plain_test_folder_with_type_subfolders(tmp_path: Path) -> None:
    _write(tmp_path / "good/a.png", (10, 10))
    _write(tmp_path / "dent/b.png", (10, 10))
    _mask(tmp_path / "ground_truth/dent/b_mask.png", (10, 10), (slice(0, 2), slice(0, 2)))
    items = dataset.test_items(tmp_path)
    assert [(i.label, i.defect_type) for i in items] == [(0, "good"), (1, "dent")]  # ground_truth not a type
    assert items[1].mask_path == tmp_path / "ground_truth/dent/b_mask.png"


def test_read_mask_resizes_nearest(mvtec: Path) -> None:
    crack = dataset.test_items(mvtec)[1]
    mask = dataset.read_mask(crack.mask_path, (20, 30))
    assert mask.dtype == bool and mask.shape == (20, 30)
    assert mask[:5, :10].all() and mask.sum() == 50  # the 10 x 20 box halved, hard edges kept
    good = dataset.test_items(mvtec)[0]
    assert not dataset.item_mask(good, (8, 8)).any()
    assert dataset.item_mask(dataset.test_items(mvtec)[2], (8, 8)) is None


def test_missing_and_empty_folders_raise_with_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match="nope.*not found"):
        dataset.good_images(missing)
    with pytest.raises(DatasetError, match="not found"):
        dataset.test_items(missing)
    empty = tmp_path / "empty"
    (empty / "train/good").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"good.*no images") as info:
        dataset.good_images(empty)
    assert str(empty / "train" / "good") == info.value.path
    (empty / "test/good").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"test.*no images"):
        dataset.test_items(empty)


def test_category_without_train_good_is_not_read_as_plain_folder(mvtec: Path) -> None:
    import shutil

    shutil.rmtree(mvtec / "train")
    with pytest.raises(DatasetError, match="train/good"):
        dataset.good_images(mvtec)


def test_an_unreadable_class_folder_refuses_the_test_set(mvtec: Path) -> None:
    import shutil

    shutil.rmtree(mvtec / "test/scratch")
    os.symlink("scratch", mvtec / "test/scratch")  # a link to itself: cannot be listed, not even by root
    with pytest.raises(DatasetError, match=r"scratch: cannot be read \(Too many levels of symbolic links\)"):
        dataset.test_items(mvtec)  # before: the class was left out and eval reported n_defect without it


def test_an_unreadable_mask_folder_refuses_the_test_set(mvtec: Path) -> None:
    import shutil

    shutil.rmtree(mvtec / "ground_truth/crack")
    os.symlink("/nonexistent/share", mvtec / "ground_truth/crack")  # masks on a share that is not mounted
    with pytest.raises(DatasetError, match="crack: cannot be read"):
        dataset.test_items(mvtec)  # before: pixel metrics silently dropped


def test_an_unreadable_training_subfolder_is_listed_not_dropped(mvtec: Path) -> None:
    os.symlink("day2", mvtec / "train/good/day2")
    images, skipped = dataset.good_images(mvtec)
    assert [p.name for p in images] == ["000.png", "001.jpg", "002.bmp"]
    assert skipped == [(str(mvtec / "train/good/day2"),
                        "folder cannot be read (Too many levels of symbolic links); its images are left out")]  # fmt: skip


def test_an_unreadable_training_class_is_refused(mvtec: Path, tmp_path: Path) -> None:
    os.symlink("good", tmp_path / "good")
    with pytest.raises(DatasetError, match="good: cannot be read"):
        dataset.good_images(tmp_path / "good")
    import shutil

    shutil.rmtree(mvtec / "train/good")
    os.symlink("/nonexistent/share", mvtec / "train/good")  # not read as a plain folder of the whole category
    with pytest.raises(DatasetError, match="good: a link to a folder that is not there"):
        dataset.good_images(mvtec)


def test_the_fingerprint_takes_names_that_are_not_utf8(tmp_path: Path) -> None:
    import hashlib

    from draem_core.training_data import fingerprint

    plain = _write(tmp_path / "a.png", (4, 4))
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.png"))  # Latin-1 name on a UTF-8 system
    odd.write_bytes(plain.read_bytes())
    expected = hashlib.sha256(b"a.png" + hashlib.sha256(plain.read_bytes()).digest())
    assert fingerprint([plain]) == expected.hexdigest()  # unchanged for valid names: old models still match
    assert fingerprint([plain, odd]) != fingerprint([plain]) and len(fingerprint([odd])) == 64
