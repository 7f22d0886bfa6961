"""One camera of a station: its source, its inspection pipeline and its reject pulse."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.pipeline import InspectionPipeline
from app.reject import PulseOutput
from app.sources.base import FrameSource


@dataclass
class Camera:
    """A source of the station with what judges its frames and what signals its rejects."""

    index: int  # position in the station (0 = the first source)
    spec: str  # the spec it was opened from (``demo``, ``sim``, a serial, ``folder:...``)
    source: FrameSource  # the opened, started source
    pipeline: InspectionPipeline  # the worker that judges its frames
    pulse: PulseOutput | None = None  # its reject pulse, when enabled
    camera_triggered: bool = False  # the camera itself is in software-trigger mode (TriggerSoftware fires it)

    @property
    def name(self) -> str:
        return self.source.name


def open_camera_source(factory: Callable[[str], FrameSource], spec: str, config) -> FrameSource:
    """Create, open and start the source of ``spec`` (blocks: a job thread only); closed again on failure."""
    source = factory(spec)
    slot = getattr(source, "slot", None)
    if slot is not None:
        slot.queue_size, slot.trigger_timeout_s = config.queue_size, config.trigger_timeout_s
    try:
        source.open()
        source.start()
    except BaseException:
        close_quietly([source])
        raise
    return source


def close_quietly(items: Iterable[object], timeout: float = 5.0) -> None:
    """Stop cameras (pipeline first, then source and pulse) and close anything else; never raises."""
    for item in items:
        parts = (item.pipeline, item.source, item.pulse) if isinstance(item, Camera) else (item,)
        for part in parts:
            if part is None:
                continue
            try:
                if isinstance(part, InspectionPipeline):
                    part.stop(timeout)
                else:
                    part.close()
            except Exception:  # noqa: BLE001 - closing must go on; the part reported its own errors
                pass


def unique_names(names: Sequence[str]) -> list[str]:
    """The cameras' names in records, made unique within the station: a name that repeats (two demo lines, two
    folders of the same name) gets `` #2``, `` #3`` … after its second, third … use."""
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in out:
            n += 1
            candidate = f"{name} #{n}"
        out.append(candidate)
    return out
