"""Helpers shared by the camera tests (imported by name: this folder is on sys.path under pytest)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
import pytest

from app.camera.discovery import simulator_path

requires_simulator = pytest.mark.skipif(
    simulator_path() is None, reason="genicam's viky.cti is not installed"
)


def wait_until(condition, timeout: float = 10.0, step: float = 0.02) -> None:
    """Poll ``condition`` until it holds; fail the test with a message if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(step)


def pack_lsb_first(values: np.ndarray, bits: int) -> np.ndarray:
    """Reference packer written independently of the decoder: one big integer, LSB first."""
    stream = 0
    for i, v in enumerate(values.reshape(-1).tolist()):
        stream |= int(v) << (i * bits)
    nbytes = (values.size * bits + 7) // 8
    return np.frombuffer(stream.to_bytes(nbytes, "little"), dtype=np.uint8)


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """Sample an RGB image through a Bayer filter named by its first line (RG, GB, GR, BG)."""
    index = {"R": 0, "G": 1, "B": 2}
    second = {"RG": "GB", "GB": "RG", "GR": "BG", "BG": "GR"}[pattern]
    layout = [[index[pattern[0]], index[pattern[1]]], [index[second[0]], index[second[1]]]]
    out = np.zeros(rgb.shape[:2], rgb.dtype)
    for dy in range(2):
        for dx in range(2):
            out[dy::2, dx::2] = rgb[dy::2, dx::2, layout[dy][dx]]
    return out


# The formats of the table in docs/cameras.md ("Pixel formats and channel order").
TABLE_FORMATS = (
    "Mono8", "Mono10", "Mono12", "Mono14", "Mono16", "Mono10p", "Mono12p",
    *(f"Bayer{p}{d}" for p in ("RG", "GB", "GR", "BG") for d in ("8", "10", "12", "16", "10p", "12p")),
    "RGB8", "BGR8", "RGBa8", "BGRa8", "YCbCr422_8", "YCbCr422_8_CbYCrY",
)  # fmt: skip
BAYER_COLOUR = np.array([200, 100, 50])  # a distinct R, G, B (8-bit scale) for uniform Bayer images


@dataclass(frozen=True)
class KnownImage:
    """Raw PFNC bytes of an image whose decoded pixel values are known."""

    raw: np.ndarray  # uint8 bytes as the camera sends them
    width: int  # pixels
    height: int  # pixels
    expected: np.ndarray  # the decoded image (RGB, unscaled)
    region: tuple[slice, slice]  # where ``expected`` is exact (Bayer: away from the demosaicing border)
    atol: float  # tolerance (YCbCr: the BT.601 conversion rounds)

    def check(self, image: np.ndarray) -> None:
        """Assert that ``image`` is this image, in dtype, shape and values."""
        assert image.dtype == self.expected.dtype and image.shape == self.expected.shape
        got, want = image[self.region].astype(float), self.expected[self.region].astype(float)
        np.testing.assert_allclose(got, want, atol=self.atol, rtol=0)


def known_image(fmt: str, rng: np.random.Generator, width: int = 8, height: int = 6) -> KnownImage:
    """Raw bytes of format ``fmt`` and the image they decode to, written independently of the decoder."""
    everywhere = (slice(None), slice(None))
    if fmt.startswith(("Mono", "Bayer")):
        bits = int(re.search(r"\d+", fmt).group())
        dtype = np.uint8 if bits == 8 else np.uint16
        if fmt.startswith("Mono"):
            expected = rng.integers(0, 1 << bits, size=(height, width)).astype(dtype)
            expected[0, :3] = [(1 << bits) - 1, 0, 1 << (bits - 1)]  # extremes and the top bit
            plane, region = expected, everywhere
        else:
            colour = BAYER_COLOUR << (bits - 8)
            expected = np.broadcast_to(colour, (height, width, 3)).astype(dtype)
            plane, region = mosaic(expected, fmt[5:7]), (slice(2, -2), slice(2, -2))
        return KnownImage(_sample_bytes(plane, bits, fmt.endswith("p")), width, height, expected, region, 0)
    if fmt.startswith(("RGB", "BGR")):
        expected = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        planes = [expected[..., i] for i in ((0, 1, 2) if fmt.startswith("RGB") else (2, 1, 0))]
        if fmt.endswith("a8"):
            planes.append(np.full((height, width), 7, np.uint8))
        return KnownImage(np.dstack(planes).reshape(-1), width, height, expected, everywhere, 0)
    return _known_ycbcr(fmt, width, height)


def _sample_bytes(plane: np.ndarray, bits: int, packed: bool) -> np.ndarray:
    if packed:
        return pack_lsb_first(plane, bits)
    return np.frombuffer(plane.astype(np.uint8 if bits == 8 else "<u2").tobytes(), np.uint8)


def _known_ycbcr(fmt: str, width: int, height: int) -> KnownImage:
    """Grey pairs and red pairs, alternating (full-range BT.601: R = Y + 1.402 (Cr - 128) ...)."""
    y, cb, cr = 76, 85, 255
    grey, red = (128, 128, 128, 128), ((y, cb, y, cr) if fmt == "YCbCr422_8" else (cb, y, cr, y))
    quads = [grey if i % 2 == 0 else red for i in range(width * height // 2)]
    rgb_red = [y + 1.402 * (cr - 128), y - 0.344 * (cb - 128) - 0.714 * (cr - 128), y + 1.772 * (cb - 128)]
    pair = [[128, 128, 128]] * 2 + [np.clip(rgb_red, 0, 255)] * 2
    expected = np.array(pair * (width * height // 4)).reshape(height, width, 3)
    raw = np.array(quads, np.uint8).reshape(-1)
    return KnownImage(raw, width, height, expected.round().astype(np.uint8), (slice(None), slice(None)), 1.5)
