"""Acquisition modes: free run, or every part triggered (by software or by the camera's trigger input).

A camera with trigger nodes is put in trigger mode itself, and every frame it sends is a part. Sources
without them (demo line, folder, video, the simulator) keep running, and a software trigger takes the next
frame after it (see :class:`app.sources.slot.FrameSlot`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from app.sources.errors import SourceError
from app.station.camera import Camera

SOFTWARE_SOURCE = "Software"  # TriggerSource of a camera triggered by the station
HARDWARE_SOURCE = "Line1"  # TriggerSource of a camera triggered by the line's sensor


class AcquisitionMode(str, enum.Enum):
    """How the station decides which frames are parts."""

    FREE_RUN = "free_run"  # judge the newest frame, skip the rest (counted as dropped)
    SOFTWARE = "software"  # a part per software trigger (``Station.trigger``)
    HARDWARE = "hardware"  # a part per frame the camera's trigger input makes it send


def has_trigger_nodes(source: object) -> bool:
    """Whether the source can be triggered itself (a GenICam camera with TriggerMode/TriggerSoftware)."""
    probe = getattr(source, "has_trigger", None)
    if not callable(probe):
        return False
    try:
        return bool(probe())
    except SourceError:  # the camera cannot be asked now: trigger it by taking the next frame
        return False


def apply_mode(camera: Camera, mode: AcquisitionMode, hardware_line: str = HARDWARE_SOURCE) -> None:
    """Put one camera in ``mode`` (camera commands: call it off the GUI thread).

    Raises:
        SourceError: hardware triggering asked of a source without a trigger input.
    """
    source, slot = camera.source, camera.source.slot
    if mode == AcquisitionMode.FREE_RUN:
        if camera.camera_triggered or (slot.triggered and has_trigger_nodes(source)):
            source.control("set_trigger", False)
        camera.camera_triggered = False
        slot.set_mode(False)
        return
    nodes = has_trigger_nodes(source)
    if mode == AcquisitionMode.HARDWARE and not nodes:
        raise SourceError(camera.name, "has no trigger input (no TriggerMode/TriggerSource nodes); use the software trigger")
    if nodes:
        source.control("set_trigger", True, SOFTWARE_SOURCE if mode == AcquisitionMode.SOFTWARE else hardware_line)
    slot.set_mode(True, every_frame=nodes)
    camera.camera_triggered = nodes and mode == AcquisitionMode.SOFTWARE


def apply_to_all(cameras: Sequence[Camera], mode: AcquisitionMode, hardware_line: str,
                 report: Callable[[str, object], None]) -> None:  # fmt: skip
    """:func:`apply_mode` for every camera; one camera's failure is reported and does not stop the others."""
    for camera in cameras:
        try:
            apply_mode(camera, mode, hardware_line)
        except Exception as exc:  # noqa: BLE001 - reported per camera
            report("trigger", exc)
