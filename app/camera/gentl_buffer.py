"""One GenTL buffer to an image: decode what harvesters hands over, the raw bytes where it cannot.

harvesters (1.4) converts a buffer's bytes itself when it builds ``Buffer.payload``: 8-bit formats stay
bytes; Mono/Bayer formats above 8 bits become uint16 samples, the packed ``p`` formats unpacked.
:func:`~app.camera.pixel_formats.decode` takes both. The raw bytes of the GenTL buffer are decoded instead
when harvesters' array cannot be used:

* the buffer has line padding (``padding_x``): harvesters 1.4.3 leaves the padding in its array (it
  discards the result of its ``numpy.delete``), which would shear the image;
* harvesters fails to build the payload: a packed format whose line does not fill whole groups (Mono12p
  with an odd width: its reshape raises), or a format it does not know.

harvesters is imported inside the function, so importing this module does not load it.
"""

from __future__ import annotations

import numpy as np

from app.camera.errors import PixelFormatError
from app.camera.pixel_formats import decode


def buffer_image(raw, node_map) -> np.ndarray:
    """Decode a GenTL buffer (``ImageAcquirer.try_fetch(is_raw=True)``) of the device with ``node_map``.

    Raises:
        PixelFormatError: the format is not supported, or the buffer's size or information does not fit.
    """
    from harvesters.core import Buffer

    try:
        component = Buffer(module=raw, node_map=node_map).payload.components[0]
    except Exception:  # noqa: BLE001 - harvesters' own conversion failed: the raw bytes are decoded below
        component = None
    if component is not None and not component.x_padding:
        return decode(component.data, component.width, component.height, component.data_format)
    return _decode_raw(raw, node_map)


def _decode_raw(raw, node_map) -> np.ndarray:
    """The buffer's bytes, decoded by :func:`decode` (line padding removed)."""
    from harvesters.util.pfnc import dict_by_ints

    pixel_format = "unknown"
    try:
        pixel_format = _format_name(raw, node_map, dict_by_ints)
        data = np.frombuffer(raw.raw_buffer, dtype=np.uint8)
        width, height, padding = int(raw.width), int(raw.height), int(_padding_x(raw))
    except Exception as exc:  # noqa: BLE001 - GenTL 'not available' errors come in several types
        raise PixelFormatError(pixel_format, f"buffer information not available: {exc}") from exc
    return decode(data, width, height, pixel_format, line_padding=padding)


def _format_name(raw, node_map, names: dict) -> str:
    """PFNC name of the buffer's pixel format; the device's ``PixelFormat`` when the buffer has none."""
    try:
        value = int(raw.pixel_format)
    except Exception:  # noqa: BLE001 - some producers do not fill it in (harvesters falls back the same way)
        return str(node_map.PixelFormat.value)
    return names.get(value, f"0x{value:08X}")


def _padding_x(raw) -> int:
    try:
        return raw.padding_x
    except Exception:  # noqa: BLE001 - not available: no padding
        return 0
