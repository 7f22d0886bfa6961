"""GenICam (PFNC) buffers to NumPy images: one pure function, :func:`decode`.

It takes a buffer in either of the two forms it arrives in:

* **as harvesters hands it over** (``Component2DImage.data``): harvesters already converts the bytes of
  formats above 8 bits: Mono10/12/14/16 and Bayer 10/12/16 become uint16 samples, and the packed ``p``
  formats (Mono10p/12p, Bayer..10p/12p) are unpacked into uint16 samples too; 8-bit formats stay bytes;
* **as raw bytes** (uint8), exactly as the camera sent them, optionally with padding at the end of each line
  (GenTL ``padding_x``).

Output conventions, whatever the camera sends:

* mono formats give ``(H, W)``, colour formats ``(H, W, 3)`` in **RGB** order (alpha dropped);
* 8-bit formats give uint8; 10/12/16-bit formats give uint16 with the values **unscaled**
  (a Mono12 pixel lies in 0..4095). :func:`bit_depth` tells the depth of a format;
* packed ``...p`` formats follow the GenICam PFNC LSB-first packing with no padding between lines
  (Mono10p: 4 pixels in 5 bytes; Mono12p: 2 pixels in 3 bytes);
* Bayer formats are demosaiced with OpenCV (bilinear), named by the colour of the first two pixels of
  the first line (BayerRG: R G / G B);
* YCbCr422_8 is full-range BT.601 (the PFNC ``YCbCr`` family, as JPEG), byte order Y0 Cb Y1 Cr.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.camera.errors import PixelFormatError

# GenICam Bayer names by their first line -> the OpenCV code of the same layout.
_BAYER_CODES = {
    "RG": cv2.COLOR_BayerRGGB2RGB,
    "GB": cv2.COLOR_BayerGBRG2RGB,
    "GR": cv2.COLOR_BayerGRBG2RGB,
    "BG": cv2.COLOR_BayerBGGR2RGB,
}
_MONO_BITS = {"Mono8": 8, "Mono10": 10, "Mono12": 12, "Mono14": 14, "Mono16": 16}
_PACKED_BITS = {"Mono10p": 10, "Mono12p": 12}
_COLOUR_8BIT = {"RGB8": 3, "BGR8": 3, "RGBa8": 4, "BGRa8": 4}
_COLOUR_CODES = {"BGR8": cv2.COLOR_BGR2RGB, "RGBa8": cv2.COLOR_RGBA2RGB, "BGRa8": cv2.COLOR_BGRA2RGB}
_YCBCR = {"YCbCr422_8": (0, 1, 3), "YCbCr422_8_CbYCrY": (1, 0, 2)}  # (first Y, Cb, Cr) byte index in 4


def supported_formats() -> tuple[str, ...]:
    """Every pixel format name :func:`decode` accepts."""
    bayer = [f"Bayer{p}{b}" for p in _BAYER_CODES for b in ("8", "10", "12", "16", "10p", "12p")]
    return (*_MONO_BITS, *_PACKED_BITS, *bayer, *_COLOUR_8BIT, *_YCBCR)


def bit_depth(pixel_format: str) -> int:
    """Significant bits per sample of a format (8 for 8-bit formats, 12 for Mono12 or BayerRG12p ...)."""
    if pixel_format not in supported_formats():
        raise PixelFormatError(pixel_format, "not supported; supported: " + ", ".join(supported_formats()))
    if pixel_format in _YCBCR:
        return 8
    return int("".join(ch for ch in pixel_format if ch.isdigit()))


def decoded_nbytes(pixel_format: str, width: int, height: int) -> int:
    """Size in bytes of the array :func:`decode` returns for this format and size."""
    channels = 1 if pixel_format.startswith("Mono") else 3
    itemsize = 1 if bit_depth(pixel_format) <= 8 else 2
    return width * height * channels * itemsize


def decode(
    data: np.ndarray, width: int, height: int, pixel_format: str, *, line_padding: int = 0
) -> np.ndarray:
    """Decode one buffer.

    Args:
        data: The buffer: uint8 raw bytes (an array or ``bytes``; any format; extra trailing bytes are
            ignored), or uint16 samples of a Mono/Bayer format above 8 bits, already unpacked (what
            harvesters hands over).
        width: Image width in pixels.
        height: Image height in pixels.
        pixel_format: PFNC name as the camera reports it, e.g. ``"Mono12p"`` or ``"BayerRG8"``.
        line_padding: Bytes at the end of each line of raw bytes (GenTL ``padding_x``); 0 for samples.

    Returns:
        ``(H, W)`` or ``(H, W, 3)`` RGB array, uint8 for 8-bit formats, uint16 (unscaled) above.

    Raises:
        PixelFormatError: unsupported format, a buffer shorter than the format needs, or samples of a type
            the format cannot have.
    """
    bit_depth(pixel_format)  # raises with the list of supported formats
    data = (
        np.frombuffer(data, np.uint8)
        if isinstance(data, bytes | bytearray | memoryview)
        else np.asarray(data)
    )
    data = data.reshape(-1)
    if data.dtype not in (np.uint8, np.uint16) or (line_padding and data.dtype == np.uint16):
        msg = f"{data.dtype} buffer{' with line padding' if line_padding else ''} not understood"
        raise PixelFormatError(pixel_format, msg + " (expected uint8 raw bytes or uint16 unpacked samples)")
    if line_padding:
        data = _strip_line_padding(data, width, height, pixel_format, line_padding)
    if data.dtype == np.uint16:
        return _from_samples(data, width, height, pixel_format)
    if pixel_format in _MONO_BITS or pixel_format in _PACKED_BITS:
        return _plane(data, width, height, pixel_format)
    if pixel_format.startswith("Bayer"):
        return _demosaic(_plane(data, width, height, pixel_format), pixel_format)
    if pixel_format in _COLOUR_8BIT:
        return _colour(data, width, height, pixel_format)
    return _ycbcr422(data, width, height, pixel_format)


def _from_samples(samples: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    """Unpacked uint16 samples (harvesters' conversion of Mono/Bayer formats above 8 bits)."""
    if bit_depth(pixel_format) <= 8:  # above 8 bits, only Mono and Bayer formats are supported
        raise PixelFormatError(pixel_format, "got 16-bit samples for a format of 8-bit samples")
    plane = _take(samples, width * height, pixel_format, "samples").astype(np.uint16).reshape(height, width)
    return _demosaic(plane, pixel_format) if pixel_format.startswith("Bayer") else plane


def _line_bytes(pixel_format: str, width: int) -> int:
    """Bytes of one image line in raw data, without padding."""
    if pixel_format.endswith("p"):
        return (width * bit_depth(pixel_format) + 7) // 8
    if pixel_format in _COLOUR_8BIT:
        return width * _COLOUR_8BIT[pixel_format]
    if pixel_format in _YCBCR:
        return width * 2
    return width * (1 if bit_depth(pixel_format) <= 8 else 2)


def _strip_line_padding(
    data: np.ndarray, width: int, height: int, pixel_format: str, padding: int
) -> np.ndarray:
    """Raw bytes without the padding at the end of each line.

    A packed line that does not fill whole bytes ends on a byte boundary: those lines are unpacked one by
    one and come back as uint16 samples.
    """
    line = _line_bytes(pixel_format, width)
    rows = _take(data, (line + padding) * height, pixel_format).reshape(height, line + padding)[:, :line]
    if pixel_format.endswith("p") and width * bit_depth(pixel_format) % 8:
        bits = bit_depth(pixel_format)
        return np.concatenate([_unpack(row, width, bits, pixel_format) for row in rows])
    return np.ascontiguousarray(rows).reshape(-1)


def _take(data: np.ndarray, count: int, pixel_format: str, unit: str = "bytes") -> np.ndarray:
    if data.size < count:
        msg = f"buffer has {data.size} {unit}, the image needs {count}"
        raise PixelFormatError(pixel_format, msg)
    return data[:count]


def _plane(data: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    """The ``(H, W)`` samples of a Mono or Bayer format from raw bytes."""
    count = width * height
    bits = bit_depth(pixel_format)
    if pixel_format.endswith("p"):
        samples = _unpack(data, count, bits, pixel_format)
    elif bits <= 8:
        samples = _take(data, count, pixel_format).copy()
    else:
        samples = _take(data, 2 * count, pixel_format).view("<u2").astype(np.uint16)
    return samples.reshape(height, width)


def _unpack(data: np.ndarray, count: int, bits: int, pixel_format: str) -> np.ndarray:
    """LSB-first bit stream of ``bits``-bit samples (PFNC ``p`` formats) -> uint16."""
    group_px, group_bytes = (4, 5) if bits == 10 else (2, 3)
    groups = -(-count // group_px)
    needed = (count * bits + 7) // 8
    raw = _take(data, needed, pixel_format)
    padded = np.zeros(groups * group_bytes, dtype=np.uint16)
    padded[:needed] = raw
    b = padded.reshape(groups, group_bytes)
    if bits == 10:
        out = np.stack(
            (
                b[:, 0] | (b[:, 1] & 0x03) << 8,
                b[:, 1] >> 2 | (b[:, 2] & 0x0F) << 6,
                b[:, 2] >> 4 | (b[:, 3] & 0x3F) << 4,
                b[:, 3] >> 6 | b[:, 4] << 2,
            ),
            axis=1,
        )
    else:
        out = np.stack((b[:, 0] | (b[:, 1] & 0x0F) << 8, b[:, 1] >> 4 | b[:, 2] << 4), axis=1)
    return out.reshape(-1)[:count].astype(np.uint16)


def _demosaic(mosaic: np.ndarray, pixel_format: str) -> np.ndarray:
    return cv2.cvtColor(mosaic, _BAYER_CODES[pixel_format[5:7]])


def _colour(data: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    channels = _COLOUR_8BIT[pixel_format]
    pixels = _take(data, width * height * channels, pixel_format).reshape(height, width, channels)
    if pixel_format == "RGB8":
        return pixels.copy()
    return cv2.cvtColor(pixels, _COLOUR_CODES[pixel_format])  # ~50x faster than NumPy fancy indexing


def _ycbcr422(data: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    if width % 2:
        raise PixelFormatError(pixel_format, f"width {width} must be even for 4:2:2 data")
    y_at, cb_at, cr_at = _YCBCR[pixel_format]
    row_bytes = _take(data, width * height * 2, pixel_format).reshape(height, width * 2)
    luma = np.ascontiguousarray(row_bytes[:, y_at::2])
    half = (width, height)
    cb = cv2.resize(np.ascontiguousarray(row_bytes[:, cb_at::4]), half, interpolation=cv2.INTER_NEAREST)
    cr = cv2.resize(np.ascontiguousarray(row_bytes[:, cr_at::4]), half, interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(cv2.merge((luma, cr, cb)), cv2.COLOR_YCrCb2RGB)
