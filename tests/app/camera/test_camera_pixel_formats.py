"""Every pixel format decoded from synthesised buffers of known pixel values."""

from __future__ import annotations

import numpy as np
import pytest
from camera_helpers import mosaic, pack_lsb_first

from app.camera.errors import PixelFormatError
from app.camera.pixel_formats import bit_depth, decode, decoded_nbytes, supported_formats

H, W = 4, 6
RNG = np.random.default_rng(7)


@pytest.mark.parametrize(("fmt", "bits"), [("Mono8", 8), ("Mono10", 10), ("Mono12", 12), ("Mono16", 16)])
def test_mono_unpacked(fmt, bits):
    values = RNG.integers(0, 1 << bits, size=(H, W))
    dtype = np.uint8 if bits == 8 else np.dtype("<u2")
    out = decode(np.frombuffer(values.astype(dtype).tobytes(), np.uint8), W, H, fmt)
    assert out.dtype == (np.uint8 if bits == 8 else np.uint16)
    assert out.shape == (H, W)
    np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize(
    ("fmt", "bits", "count"), [("Mono10p", 10, H * W), ("Mono12p", 12, H * W), ("Mono10p", 10, 15)]
)
def test_mono_packed_lsb_first(fmt, bits, count):
    width, height = (W, H) if count == H * W else (5, 3)  # 15 pixels: a partial last group
    values = RNG.integers(0, 1 << bits, size=(height, width))
    values[0, :3] = [(1 << bits) - 1, 1, 1 << (bits - 1)]  # extremes and the top bit
    out = decode(pack_lsb_first(values, bits), width, height, fmt)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, values)


def test_mono10p_known_bytes():
    # 4 pixels 0x3FF, 0x000, 0x155, 0x2AA packed LSB first -> 5 bytes written out by hand.
    data = np.array([0xFF, 0x03, 0x50, 0x95, 0xAA], np.uint8)
    np.testing.assert_array_equal(decode(data, 4, 1, "Mono10p"), [[0x3FF, 0x000, 0x155, 0x2AA]])


@pytest.mark.parametrize("pattern", ["RG", "GB", "GR", "BG"])
@pytest.mark.parametrize("depth", ["8", "10", "12", "12p"])
def test_bayer_uniform_colour_comes_back(pattern, depth):
    bits = int(depth.rstrip("p"))
    colour = np.array([200, 100, 50]) * (1 << (bits - 8))  # distinct R, G, B; scaled to the depth
    rgb = np.broadcast_to(colour, (8, 8, 3)).astype(np.uint16)
    raw = mosaic(rgb, pattern)
    if depth.endswith("p"):
        data = pack_lsb_first(raw, bits)
    elif bits == 8:
        data = raw.astype(np.uint8).reshape(-1)
    else:
        data = np.frombuffer(raw.astype("<u2").tobytes(), np.uint8)
    out = decode(data, 8, 8, f"Bayer{pattern}{depth}")
    assert out.shape == (8, 8, 3)
    assert out.dtype == (np.uint8 if bits == 8 else np.uint16)
    np.testing.assert_array_equal(out[2:-2, 2:-2], np.broadcast_to(colour, (4, 4, 3)))


@pytest.mark.parametrize("fmt", ["RGB8", "BGR8", "RGBa8", "BGRa8"])
def test_colour_8bit_is_rgb(fmt):
    rgb = RNG.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    planes = (
        [rgb[..., 0], rgb[..., 1], rgb[..., 2]]
        if fmt.startswith("RGB")
        else [rgb[..., 2], rgb[..., 1], rgb[..., 0]]
    )
    if fmt.endswith("a8"):
        planes.append(np.full((H, W), 7, np.uint8))
    out = decode(np.dstack(planes).reshape(-1), W, H, fmt)
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("fmt", ["YCbCr422_8", "YCbCr422_8_CbYCrY"])
def test_ycbcr422_full_range(fmt):
    # Two pixel pairs: grey (Y=128, Cb=Cr=128) and a red pair (full-range BT.601: R = Y + 1.402 (Cr-128)).
    y, cb, cr = 76, 85, 255
    quads = (
        [(128, 128, 128, 128), (y, cb, y, cr)]
        if fmt == "YCbCr422_8"
        else [(128, 128, 128, 128), (cb, y, cr, y)]
    )
    out = decode(np.array(quads, np.uint8).reshape(-1), 4, 1, fmt)
    expect_red = [y + 1.402 * (cr - 128), y - 0.344 * (cb - 128) - 0.714 * (cr - 128), y + 1.772 * (cb - 128)]
    np.testing.assert_array_equal(out[0, :2], [[128, 128, 128]] * 2)
    np.testing.assert_allclose(out[0, 2:].astype(float), [np.clip(expect_red, 0, 255)] * 2, atol=1.5)


def test_trailing_padding_ignored_and_short_buffer_named():
    values = np.arange(H * W, dtype=np.uint8)
    np.testing.assert_array_equal(
        decode(np.concatenate([values, np.array([9, 9], np.uint8)]), W, H, "Mono8").reshape(-1), values
    )
    with pytest.raises(PixelFormatError, match="Mono16.*needs 48"):
        decode(values, W, H, "Mono16")


def test_unknown_format_lists_supported():
    with pytest.raises(PixelFormatError, match="Coord3D_ABC32f.*Mono8"):
        decode(np.zeros(10, np.uint8), 1, 1, "Coord3D_ABC32f")


def test_bit_depth_and_sizes():
    assert [bit_depth(f) for f in ("Mono8", "Mono12p", "BayerGR10", "RGBa8", "YCbCr422_8")] == [
        8,
        12,
        10,
        8,
        8,
    ]
    assert decoded_nbytes("BayerRG12", 10, 2) == 10 * 2 * 3 * 2
    assert decoded_nbytes("RGBa8", 10, 2) == 10 * 2 * 3
    assert "Mono10p" in supported_formats()
