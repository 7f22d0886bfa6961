"""Raw GenICam (PFNC) buffers to NumPy images: one pure function, :func:`decode`.

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


def decode(data: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    """Decode one raw buffer.

    Args:
        data: The buffer as a 1-D uint8 array (extra trailing bytes are ignored).
        width: Image width in pixels.
        height: Image height in pixels.
        pixel_format: PFNC name as the camera reports it, e.g. ``"Mono12p"`` or ``"BayerRG8"``.

    Returns:
        ``(H, W)`` or ``(H, W, 3)`` RGB array, uint8 for 8-bit formats, uint16 (unscaled) above.

    Raises:
        PixelFormatError: unsupported format, or a buffer shorter than the format needs.
    """
    data = np.ascontiguousarray(data, dtype=np.uint8).reshape(-1)
    if pixel_format in _MONO_BITS:
        return _samples(data, width, height, pixel_format).reshape(height, width)
    if pixel_format in _PACKED_BITS:
        return _unpack(data, width * height, _PACKED_BITS[pixel_format], pixel_format).reshape(height, width)
    if pixel_format.startswith("Bayer"):
        return _demosaic(data, width, height, pixel_format)
    if pixel_format in _COLOUR_8BIT:
        return _colour(data, width, height, pixel_format)
    if pixel_format in _YCBCR:
        return _ycbcr422(data, width, height, pixel_format)
    bit_depth(pixel_format)  # raises with the list of supported formats
    raise PixelFormatError(pixel_format, "not supported")  # pragma: no cover - bit_depth raised already


def _take(data: np.ndarray, nbytes: int, pixel_format: str) -> np.ndarray:
    if data.size < nbytes:
        msg = f"buffer has {data.size} bytes, the image needs {nbytes}"
        raise PixelFormatError(pixel_format, msg)
    return data[:nbytes]


def _samples(data: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    """Unpacked samples: 1 byte each up to 8 bits, 2 bytes little-endian above."""
    count = width * height
    if bit_depth(pixel_format) <= 8:
        return _take(data, count, pixel_format).copy()
    raw = _take(data, 2 * count, pixel_format)
    return raw.view("<u2").astype(np.uint16)


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


def _demosaic(data: np.ndarray, width: int, height: int, pixel_format: str) -> np.ndarray:
    pattern, depth = pixel_format[5:7], pixel_format[7:]
    if pattern not in _BAYER_CODES or depth not in ("8", "10", "12", "16", "10p", "12p"):
        bit_depth(pixel_format)  # raises with the supported list
    if depth.endswith("p"):
        mosaic = _unpack(data, width * height, int(depth[:-1]), pixel_format)
    else:
        mosaic = _samples(data, width, height, pixel_format)
    return cv2.cvtColor(mosaic.reshape(height, width), _BAYER_CODES[pattern])


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
