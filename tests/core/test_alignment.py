"""Part alignment: ECC registration to a reference part, the aligned region, maps put back, stored reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from draem_core.alignment import Aligner, AlignmentError, aligned_crop, map_to_frame, region_matrix
from draem_core.region import RegionError, crop

W, H = 320, 240
ROI = (70, 30, 180, 180)  # around the part, with room for its movement


def _part(seed: int = 0) -> np.ndarray:
    """A flange-like part on a noisy belt: disc, four holes, a marking (RGB uint8)."""
    rng = np.random.default_rng(seed)
    img = np.clip(rng.normal(40, 6, (H, W)), 0, 255).astype(np.uint8)
    cv2.circle(img, (160, 120), 75, 185, -1, cv2.LINE_AA)
    cv2.circle(img, (160, 120), 18, 30, -1, cv2.LINE_AA)
    for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        cv2.circle(img, (160 + dx * 37, 120 + dy * 37), 7, 30, -1, cv2.LINE_AA)
    cv2.putText(img, "AB-12", (132, 172), cv2.FONT_HERSHEY_SIMPLEX, 0.45, 90, 1, cv2.LINE_AA)
    return np.repeat(img[..., None], 3, axis=2)


def _moved(frame: np.ndarray, angle_deg: float, dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` with the part turned about its centre and shifted; the 2x3 matrix reference -> moved frame."""
    m = cv2.getRotationMatrix2D((160.0, 120.0), angle_deg, 1.0)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(frame, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), m


@pytest.mark.parametrize(("angle", "dx", "dy"), [(0.0, 0.0, 0.0), (5.0, 12.0, -8.0), (-7.0, -15.0, 10.0)])
def test_registration_finds_the_parts_pose(angle, dx, dy):
    ref = _part()
    moved, truth = _moved(ref, angle, dx, dy)
    found = Aligner.from_frame(ref, ROI).matrix(moved)
    corners = np.array([[ROI[0], ROI[1], 1.0], [ROI[0] + ROI[2], ROI[1] + ROI[3], 1.0]]).T
    np.testing.assert_allclose(found @ corners, truth @ corners, atol=0.3)  # region corners within 0.3 px


def test_aligned_region_matches_the_reference_and_unaligned_does_not():
    ref = _part()
    moved, _ = _moved(ref, 6.0, 14.0, -9.0)
    aligner = Aligner.from_frame(ref, ROI)
    aligned = aligned_crop(moved, aligner.matrix(moved), ROI).astype(np.float32)
    target = crop(ref, ROI).astype(np.float32)
    err_aligned = np.abs(aligned - target).mean()
    err_plain = np.abs(crop(moved, ROI).astype(np.float32) - target).mean()
    assert err_aligned < 3.0 < err_plain / 5


def test_map_goes_back_to_where_the_part_lies():
    ref = _part()
    moved, m = _moved(ref, -5.0, 10.0, 6.0)
    region_map = np.zeros((ROI[3], ROI[2]), np.float32)
    region_map[95:105, 45:55] = 1.0  # a defect at region pixel (50, 100)
    full = map_to_frame(region_map, m, ROI, moved.shape)
    ys, xs = np.nonzero(full > 0.5)
    expect = region_matrix(m, ROI) @ np.array([49.5, 99.5, 1.0])
    assert abs(xs.mean() - expect[0]) < 1.0 and abs(ys.mean() - expect[1]) < 1.0
    assert full.shape == (H, W) and full[:20].max() == 0.0  # nothing outside the region


def test_stored_reference_round_trips_and_a_broken_one_is_named():
    aligner = Aligner.from_frame(_part(), ROI)
    back = Aligner.from_dict(aligner.to_dict())
    np.testing.assert_array_equal(back.reference, aligner.reference)
    assert (back.frame_shape, back.roi, back.scale) == (aligner.frame_shape, aligner.roi, aligner.scale)
    broken = {**aligner.to_dict(), "reference_png": "bm90IGEgcG5n"}  # base64 of "not a png"
    with pytest.raises(AlignmentError, match="reference"):
        Aligner.from_dict(broken)
    with pytest.raises(AlignmentError, match="reference"):
        Aligner.from_dict({"scale": 0.25})


def test_frames_of_another_size_or_without_the_part_are_refused():
    aligner = Aligner.from_frame(_part(), ROI)
    with pytest.raises(AlignmentError, match="640x480 frame; the model aligns 320x240"):
        aligner.matrix(np.zeros((480, 640, 3), np.uint8))
    empty = np.clip(np.random.default_rng(5).normal(40, 6, (H, W, 3)), 0, 255).astype(np.uint8)
    with pytest.raises(RegionError, match="align|reference part"):  # AlignmentError is a RegionError
        aligner.matrix(empty)


def test_mono_frames_align_too():
    ref = _part()
    moved, truth = _moved(ref, 4.0, -6.0, 5.0)
    found = Aligner.from_frame(ref[..., 0], ROI).matrix(moved[..., 0])
    np.testing.assert_allclose(found[:, 2], truth[:, 2], atol=0.6)
