"""Finding GenTL producers (``.cti`` files) and the cameras they expose.

Producers come from, in this order: the ``GENICAM_GENTL64_PATH`` environment variable (the standard place
vendors' installers use; ``os.pathsep``-separated files or folders), paths the user configured, and the
simulated producer shipped in the ``genicam`` wheel (``viky.cti``, three simulated devices).

Listing cameras loads vendor code; :func:`discover` therefore runs it in a short-lived child process by
default, so a faulty producer cannot take the application down.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.camera.errors import CameraError

ENV_VAR = "GENICAM_GENTL64_PATH"
SIMULATOR_FILE = "viky.cti"
# GenTL DEVICE_ACCESS_STATUS codes -> names shown to the user.
ACCESS_STATUS = {
    0: "Unknown",
    1: "ReadWrite",
    2: "ReadOnly",
    3: "NoAccess",
    4: "Busy",
    5: "OpenReadWrite",
    6: "OpenReadOnly",
}


@dataclass(frozen=True)
class Producer:
    """One GenTL producer file."""

    path: str  # absolute path of the .cti file
    origin: str  # where it was found: "env", "configured" or "simulator"
    is_simulator: bool = False  # the simulated producer shipped with the genicam wheel


@dataclass(frozen=True)
class CameraInfo:
    """One device as a producer lists it (nothing is opened to get this)."""

    serial: str  # serial number: the key used to open the device
    vendor: str  # e.g. "Machine Vision Games Ltd."
    model: str  # e.g. "Viky"
    device_id: str  # the producer's id string, e.g. "VikyTL_DEV_red"
    producer: str  # path of the .cti that exposes it
    access_status: str  # one of ACCESS_STATUS's names; "Busy" means another program holds it
    is_simulator: bool  # exposed by the simulated producer
    tl_type: str = ""  # transport layer: "GEV", "U3V", "Custom" ...


@dataclass(frozen=True)
class Discovery:
    """Result of one discovery pass."""

    producers: tuple[Producer, ...]  # every producer that was loaded
    cameras: tuple[CameraInfo, ...]  # every device found, simulator included
    problems: tuple[str, ...] = field(default=())  # paths that were skipped, with the reason


def simulator_path() -> Path | None:
    """The simulated producer inside the installed ``genicam`` wheel, or None if it is missing."""
    try:
        import genicam
    except ImportError:
        return None
    path = Path(genicam.__file__).with_name(SIMULATOR_FILE)
    return path if path.is_file() else None


def find_producers(
    configured: Iterable[str | os.PathLike] = (), include_simulator: bool = True, env: str | None = None
) -> tuple[list[Producer], list[str]]:
    """All producer files, de-duplicated, and the problems met (missing paths, folders without .cti).

    Args:
        configured: Extra files or folders the user configured.
        include_simulator: Add the simulated producer shipped with genicam.
        env: Value to use instead of the ``GENICAM_GENTL64_PATH`` environment variable.
    """
    env = os.environ.get(ENV_VAR, "") if env is None else env
    entries = [(e, "env") for e in env.split(os.pathsep) if e.strip()]
    entries += [(str(e), "configured") for e in configured]
    producers, problems, seen = [], [], set()
    for entry, origin in entries:
        files, problem = _expand(Path(entry).expanduser())
        if problem:
            problems.append(f"{entry} ({origin}): {problem}")
        for f in files:
            if f not in seen:
                seen.add(f)
                producers.append(Producer(str(f), origin, is_simulator=f.name == SIMULATOR_FILE))
    sim = simulator_path()
    if include_simulator and sim is not None and sim.resolve() not in seen:
        producers.append(Producer(str(sim.resolve()), "simulator", is_simulator=True))
    return producers, problems


def _expand(entry: Path) -> tuple[list[Path], str]:
    if entry.is_file():
        return ([entry.resolve()], "") if entry.suffix.lower() == ".cti" else ([], "not a .cti file")
    if entry.is_dir():
        files = sorted(p.resolve() for p in entry.iterdir() if p.suffix.lower() == ".cti" and p.is_file())
        return files, "" if files else "folder holds no .cti file"
    return [], "does not exist"


def list_cameras(producers: Sequence[Producer]) -> list[CameraInfo]:
    """Devices of the given producers, listed in this process with one Harvester (see :func:`discover`)."""
    from harvesters.core import Harvester

    harvester = Harvester()
    try:
        for p in producers:
            harvester.add_file(p.path)
        harvester.update()
        by_path = {os.path.normcase(p.path): p for p in producers}
        return [_camera_info(d, by_path, producers) for d in harvester.device_info_list]
    finally:
        harvester.reset()


def _camera_info(info, by_path: dict[str, Producer], producers: Sequence[Producer]) -> CameraInfo:
    path = _safe(lambda: info.parent.parent.module.path_name, "")
    producer = by_path.get(os.path.normcase(str(Path(path).resolve())) if path else "", None)
    if producer is None:
        producer = producers[0] if len(producers) == 1 else Producer(path or "?", "unknown")
    return CameraInfo(
        serial=str(_safe(lambda: info.serial_number, "")),
        vendor=str(_safe(lambda: info.vendor, "")),
        model=str(_safe(lambda: info.model, "")),
        device_id=str(_safe(lambda: info.id_, "")),
        producer=producer.path,
        access_status=ACCESS_STATUS.get(int(_safe(lambda: info.access_status, 0)), "Unknown"),
        is_simulator=producer.is_simulator,
        tl_type=str(_safe(lambda: info.tl_type, "")),
    )


def _safe(read, default):
    """Producers raise for information they do not provide (e.g. user-defined names); use a default."""
    try:
        value = read()
    except Exception:  # noqa: BLE001 - vendor code raises many exception types for 'not available'
        return default
    return default if value is None else value


def discover(
    configured: Iterable[str | os.PathLike] = (),
    include_simulator: bool = True,
    isolated: bool = True,
    timeout_s: float = 30.0,
) -> Discovery:
    """Find producers and list their cameras.

    Args:
        configured: Extra producer files or folders.
        include_simulator: List the simulated devices too.
        isolated: List in a child process (a crashing or hanging producer is reported, not fatal).
        timeout_s: How long the child may take.

    Raises:
        CameraError: the child crashed or did not answer in time (the producers are named).
    """
    producers, problems = find_producers(configured, include_simulator)
    if not isolated:
        return Discovery(tuple(producers), tuple(list_cameras(producers)), tuple(problems))
    ctx = mp.get_context("spawn")
    parent_end, child_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_discover_child, args=(producers, child_end), daemon=True, name="camera-discovery"
    )
    proc.start()
    child_end.close()
    try:
        if not parent_end.poll(timeout_s):
            reason = (
                f"no answer within {timeout_s:g} s"
                if proc.is_alive()
                else f"crashed (exit code {proc.exitcode})"
            )
            raise CameraError(
                ", ".join(p.path for p in producers) or "no producer", f"device discovery {reason}"
            )
        ok, payload = parent_end.recv()
    except EOFError as exc:
        proc.join(1)
        raise CameraError(
            ", ".join(p.path for p in producers), f"device discovery crashed (exit code {proc.exitcode})"
        ) from exc
    finally:
        parent_end.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
    if not ok:
        raise CameraError(", ".join(p.path for p in producers), f"device discovery failed: {payload}")
    return Discovery(tuple(producers), tuple(payload), tuple(problems))


def _discover_child(producers: list[Producer], conn) -> None:
    try:
        conn.send((True, list_cameras(producers)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as text
        conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
