"""One place that turns a source spec (from the command line, settings or the GUI) into a FrameSource.

Specs: ``sim`` (first simulated camera), ``sim:<serial>``, ``<serial>`` of any camera the GenTL producers
list, ``demo`` (the synthetic production line), ``folder:<path>``, ``video:<path>``.
"""

from __future__ import annotations

from app.sources.base import FrameSource
from app.sources.errors import SourceError

SPEC_HELP = "sim, sim:<serial>, <camera serial>, demo, folder:<path> or video:<path>"


def open_source(spec: str, **options) -> FrameSource:
    """Create the source ``spec`` names; it is returned *closed*.

    Creating is quick and never touches hardware; call ``open()`` (which may take seconds for a camera)
    and ``start()`` off the GUI thread.

    Args:
        spec: See the module docstring.
        **options: Fields of the source's config: ``fps``/``loop`` for folders and videos,
            :class:`~app.sources.genicam.GenICamSourceConfig` fields (``producers``,
            ``command_timeout_s`` ...) for cameras, ``config=DemoLineConfig(...)`` for the demo line.

    Raises:
        SourceError: empty spec, missing folder/video, or the simulator is not installed.
    """
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    if not spec:
        raise SourceError("(empty)", f"no source given; use {SPEC_HELP}")
    if spec == "demo":
        from app.sources.demo_line import DemoLine

        return DemoLine(**options)
    if kind == "folder" and rest:
        from app.sources.folder import FolderSource, FolderSourceConfig

        return FolderSource(FolderSourceConfig(path=rest, **options))
    if kind == "video" and rest:
        from app.sources.video import VideoSource, VideoSourceConfig

        return VideoSource(VideoSourceConfig(path=rest, **options))
    if kind == "sim":
        return _simulated(rest or None, options)
    if kind in ("folder", "video"):
        raise SourceError(spec, f"{kind}: needs a path, e.g. {kind}:/data/line1")
    return _camera(spec, options)


def _simulated(serial: str | None, options: dict) -> FrameSource:
    from app.camera.discovery import simulator_path
    from app.sources.genicam import GenICamSource, GenICamSourceConfig

    path = simulator_path()
    if path is None:
        raise SourceError(
            "sim", "the simulated GenTL producer (viky.cti in the genicam package) is not installed"
        )
    config = GenICamSourceConfig(serial=serial, producers=(str(path),), **options)
    return GenICamSource(config, name=f"simulated camera {serial or '(first)'}")


def _camera(serial: str, options: dict) -> FrameSource:
    from app.sources.genicam import GenICamSource, GenICamSourceConfig

    return GenICamSource(GenICamSourceConfig(serial=serial, **options), name=f"camera {serial}")
