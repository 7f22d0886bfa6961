"""Defaults from the images: the input size keeps the aspect; the budget depends on the device."""

import cv2
import numpy as np
import pytest

from draem_core.config import SynthConfig
from draem_core.defaults import dataset_input_size, default_budget, input_size, typical_size


@pytest.mark.parametrize(("hw", "size"), [((460, 1130), (160, 416)), ((256, 4096), (64, 1024)),
                                          ((800, 600), (288, 224)), ((1024, 1024), (256, 256)),
                                          ((10, 100_000), (64, 1024))])
def test_input_size_keeps_the_aspect_at_about_256_squared(hw, size):
    assert input_size(hw) == size
    assert all(s % 32 == 0 for s in size)


def test_typical_size_is_the_median_of_the_readable_images_or_the_region(tmp_path):
    paths = []
    for i, (h, w) in enumerate([(200, 400), (210, 400), (200, 420), (1, 1)]):
        p = tmp_path / f"{i}.png"
        cv2.imwrite(str(p), np.zeros((h, w, 3), np.uint8))
        paths.append(p)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert typical_size([*paths[:3], tmp_path / "broken.png"]) == (200, 400)
    assert typical_size(paths, roi=(0, 0, 300, 100)) == (100, 300)
    assert dataset_input_size(paths[:3]) == input_size((200, 400)) == (192, 352)
    assert dataset_input_size([tmp_path / "broken.png"]) == (256, 256)


def test_rotation_off_and_a_budget_per_device():
    assert SynthConfig().p_rotate == 0.0
    assert default_budget("cpu") == ("cpu", 700)
    assert default_budget("cuda")[0] == "paper"
