"""Pixel formats as harvesters really hands them over, from known raw bytes, and end to end through viky.cti.

No producer here sends anything but Mono8 and RGBa8, so the other formats come from :class:`GenTLBuffer`,
a stand-in for the GenTL buffer (the one part mocked): it holds bytes we chose, and harvesters' own
``Buffer`` / ``Component2DImage`` / PFNC proxies convert them exactly as they convert a camera's buffer.
"""

from __future__ import annotations

import numpy as np
import pytest
from camera_helpers import TABLE_FORMATS, known_image, pack_lsb_first, requires_simulator, wait_until
from genicam.gentl import PAYLOADTYPE_INFO_IDS
from harvesters.core import Buffer
from harvesters.util.pfnc import dict_by_names

from app.camera.errors import PixelFormatError
from app.camera.gentl_buffer import buffer_image
from app.camera.pixel_formats import bit_depth, decode, supported_formats

RNG = np.random.default_rng(11)
NODE_MAP = object()  # harvesters only needs one to exist; every field comes from the buffer


class GenTLBuffer:
    """The fields of a ``genicam.gentl.Buffer`` that harvesters reads, around bytes of our choosing."""

    def __init__(self, raw: np.ndarray, width: int, height: int, pixel_format: str | int, padding_x: int = 0):
        self.raw_buffer = bytes(raw) + bytes(40)  # producers hand a buffer larger than the image
        self.width, self.height, self.padding_x = width, height, padding_x
        self.delivered_image_height = height
        self.pixel_format = dict_by_names[pixel_format] if isinstance(pixel_format, str) else pixel_format
        self.payload_type = PAYLOADTYPE_INFO_IDS.PAYLOAD_TYPE_IMAGE
        self.parent = None


def padded(raw: np.ndarray, line: int, padding: int) -> np.ndarray:
    """``raw`` with ``padding`` bytes (0xEE) after every ``line`` bytes."""
    rows = raw.reshape(-1, line)
    return np.hstack([rows, np.full((rows.shape[0], padding), 0xEE, np.uint8)]).reshape(-1)


def test_the_documented_table_is_what_decode_supports():
    assert set(TABLE_FORMATS) == set(supported_formats())


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_known_pixels_through_harvesters_conversion(fmt):
    known = known_image(fmt, RNG)
    gentl = GenTLBuffer(known.raw, known.width, known.height, fmt)
    component = Buffer(module=gentl, node_map=NODE_MAP).payload.components[0]
    # what harvesters hands over: bytes up to 8 bits, uint16 samples (packed formats unpacked) above
    assert component.data.dtype == (np.uint8 if bit_depth(fmt) <= 8 else np.uint16)
    known.check(decode(component.data, component.width, component.height, component.data_format))
    known.check(buffer_image(gentl, NODE_MAP))  # the acquisition process's path


@pytest.mark.parametrize("fmt", ["Mono8", "Mono12", "BayerGR16", "RGBa8", "YCbCr422_8", "Mono10p"])
def test_line_padding_is_removed(fmt):
    # harvesters 1.4.3 keeps the padding in its array: the raw bytes are decoded instead
    known = known_image(fmt, RNG)
    line = known.raw.size // known.height
    gentl = GenTLBuffer(padded(known.raw, line, 6), known.width, known.height, fmt, padding_x=6)
    known.check(buffer_image(gentl, NODE_MAP))


@pytest.mark.parametrize(
    ("fmt", "width", "height", "padding"),
    [("Mono12p", 5, 2, 0), ("Mono10p", 6, 3, 0), ("Mono12p", 5, 3, 3), ("Mono10p", 3, 2, 1)],
)
def test_packed_lines_that_do_not_fill_whole_groups(fmt, width, height, padding):
    # harvesters sizes each line to whole bytes: for these sizes its reshape into groups raises, and the
    # buffer would be lost; the raw bytes are decoded instead
    bits = bit_depth(fmt)
    values = RNG.integers(0, 1 << bits, size=(height, width))
    # with padding, each line is packed on its own and ends on a byte boundary, then the padding follows
    lines = [pack_lsb_first(row, bits) for row in values] if padding else [pack_lsb_first(values, bits)]
    raw = np.concatenate([np.concatenate([line, np.full(padding, 0xEE, np.uint8)]) for line in lines])
    image = buffer_image(GenTLBuffer(raw, width, height, fmt, padding_x=padding), NODE_MAP)
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image, values)


def test_unsupported_and_unknown_formats_are_named():
    with pytest.raises(PixelFormatError, match="Mono8s.*not supported; supported: Mono8"):
        buffer_image(GenTLBuffer(np.zeros(48, np.uint8), 8, 6, "Mono8s"), NODE_MAP)
    with pytest.raises(PixelFormatError, match="0x7F00BEEF.*not supported"):
        buffer_image(GenTLBuffer(np.zeros(48, np.uint8), 8, 6, 0x7F00BEEF), NODE_MAP)


def test_missing_buffer_information_is_one_clear_error():
    class NoWidth(GenTLBuffer):
        @property
        def width(self):
            raise RuntimeError("NotAvailableException: BUFFER_INFO_WIDTH")

        @width.setter
        def width(self, value):
            pass

    with pytest.raises(PixelFormatError, match="Mono8.*buffer information not available: NotAvailable"):
        buffer_image(NoWidth(np.zeros(48, np.uint8), 8, 6, "Mono8"), NODE_MAP)


def test_samples_of_the_wrong_kind_are_refused():
    with pytest.raises(PixelFormatError, match="RGB8.*16-bit samples"):
        decode(np.zeros(48 * 3, np.uint16), 8, 6, "RGB8")
    with pytest.raises(PixelFormatError, match="float32 buffer not understood"):
        decode(np.zeros(48, np.float32), 8, 6, "Mono8")
    with pytest.raises(PixelFormatError, match="Mono12.*buffer has 47 samples, the image needs 48"):
        decode(np.zeros(47, np.uint16), 8, 6, "Mono12")


# --- the real simulated producer (viky.cti): Mono8 and RGBa8 --------------------------------------------


@pytest.fixture
def sim_acquirer():
    from harvesters.core import Harvester

    from app.camera.discovery import simulator_path

    harvester = Harvester()
    harvester.add_file(str(simulator_path()))
    harvester.update()
    acquirer = harvester.create({"serial_number": "0"})
    yield acquirer
    acquirer.destroy()
    harvester.reset()


@requires_simulator
@pytest.mark.camera
@pytest.mark.parametrize(("fmt", "channels"), [("Mono8", 1), ("RGBa8", 4)])
def test_simulator_buffers_decode_to_the_bytes_it_sent(sim_acquirer, fmt, channels):
    sim_acquirer.remote_device.node_map.PixelFormat.value = fmt
    sim_acquirer.start()
    try:
        raw = None
        while raw is None:
            raw = sim_acquirer.try_fetch(timeout=2.0, is_raw=True)
        try:
            # raw_buffer aliases the producer's memory: copy what it sent before the buffer goes back
            sent = np.frombuffer(raw.raw_buffer, np.uint8)[: 400 * 400 * channels].copy()
            image = buffer_image(raw, sim_acquirer.remote_device.node_map)
        finally:
            raw.parent.queue_buffer(raw)
    finally:
        sim_acquirer.stop()  # frees the producer's buffers: the image must be a copy of its own
    sent = sent.reshape(400, 400, channels)
    np.testing.assert_array_equal(image, sent[..., 0] if channels == 1 else sent[..., :3])
    assert set(np.unique(image)) == {0, 255}


@requires_simulator
@pytest.mark.camera
@pytest.mark.parametrize(("serial", "colour"), [("0", (255, 0, 0)), ("2", (0, 0, 255))])
def test_simulator_colours_reach_the_app_in_rgb_order(open_sim, serial, colour):
    # the red (serial 0) and blue (2) simulated cameras draw 400 pixels of their colour on white, alpha 0
    source = open_sim(f"sim:{serial}")
    source.start()
    frames: list = []
    wait_until(lambda: frames.append(source.wait_latest(0.5)) or frames[-1] is not None)
    colours, counts = np.unique(frames[-1].image.reshape(-1, 3), axis=0, return_counts=True)
    assert {tuple(c) for c in colours} == {colour, (255, 255, 255)}
    assert counts[[tuple(c) for c in colours].index(colour)] == 400
    source.stop()
    source.set_feature("PixelFormat", "Mono8")
    source.start()
    frames.clear()
    wait_until(lambda: frames.append(source.wait_latest(0.5)) or frames[-1] is not None)
    mono = frames[-1].image
    assert mono.shape == (400, 400) and mono.dtype == np.uint8
    assert set(np.unique(mono)) == {0, 255} and int((mono == 0).sum()) == 400
