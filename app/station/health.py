"""What the station's health means for the operator: the state to be in, the banner, the idle verdict tile.

Plain functions over frozen snapshots, so the GUI, the headless runner and the self-test say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.ng_store import NgStoreState
from app.pipeline.stats import PipelineStats
from app.sources.base import SourceState
from app.state import AppState, AppStatus


@dataclass(frozen=True)
class CameraHealth:
    """One camera's health as the station last read it."""

    name: str  # the camera's name in records (its serial, or the source's name)
    state: SourceState  # the source's own state
    error: str  # the source's last error ("" when none)
    has_model: bool = True  # a model judges its frames
    fps: float = 0.0  # frames arriving per second

    @classmethod
    def of(cls, name: str, stats: PipelineStats, has_model: bool) -> CameraHealth:
        return cls(name, stats.source_state, stats.source_error, has_model, stats.camera_fps)

    @property
    def lost(self) -> bool:
        """Reconnecting or failed: its parts cannot be judged now."""
        return self.state in (SourceState.RECONNECTING, SourceState.ERROR)


def next_state(current: AppState, cameras: Sequence[CameraHealth]) -> tuple[AppState, str] | None:
    """The state the cameras' health calls for, with the message; None when the state stays.

    A failed camera makes the station ERROR (the engineer must reconnect). When every camera is lost
    (reconnecting) the station is RECONNECTING; while only some are, it goes on inspecting with the others: the
    banner and the lost cameras' tiles say so, their parts are NOT_JUDGED, and :func:`readiness` is False. When
    a camera is back a RECONNECTING station goes back (the caller knows where to).
    """
    failed = [c for c in cameras if c.state == SourceState.ERROR]
    lost = [c for c in cameras if c.state == SourceState.RECONNECTING]
    if failed and current != AppState.ERROR:
        c = failed[0]
        return AppState.ERROR, f"{c.name} failed: {c.error or 'unknown error'}"
    if lost and len(lost) == len(cameras) and current in (AppState.LIVE, AppState.INSPECTING):
        c = lost[0]
        detail = f" ({c.error})" if c.error else ""
        return AppState.RECONNECTING, f"{c.name}: connection lost, reconnecting …{detail}"
    if current == AppState.RECONNECTING and cameras and not failed and len(lost) < len(cameras):
        back = next((c for c in cameras if c.state == SourceState.LIVE), None)
        if back is not None:
            return AppState.LIVE, f"{back.name}: reconnected"  # the caller resumes LIVE or INSPECTING
    return None


def readiness(state: AppState, cameras: Sequence[CameraHealth]) -> tuple[bool, str]:
    """Whether the station can judge a part now, and why not: inspecting, and every camera live with a model.

    What a PLC's Ready line should follow: a part triggered while it is False is NOT_JUDGED (a reject).
    """
    if state != AppState.INSPECTING:
        return False, f"the station is {state.value}"
    if not cameras:
        return False, "no camera is connected"
    for c in cameras:
        if c.state != SourceState.LIVE:
            return False, f"{c.name} is {c.state.value}" + (f" ({c.error})" if c.error else "")
        if not c.has_model:
            return False, f"{c.name} has no model"
    return True, ""


def banner(status: AppStatus, *, has_model: bool, ng_state: NgStoreState | None = None,
           ng_warning: str = "", model_problem: str = "", lost: Sequence[str] = (),
           triggered: bool = False) -> tuple[str, str]:  # fmt: skip
    """``(text, level)`` of the banner over the view; the most urgent condition wins, ``("", "")`` when all is well.

    ``lost`` names the cameras lost while the station goes on with the others; ``triggered``: its parts are
    NOT JUDGED meanwhile (free run: the others are judged on their own).
    """
    if status.state == AppState.RECONNECTING:
        return f"⚠  Camera connection lost — reconnecting …   {status.message}", "warn"
    if status.state == AppState.ERROR:
        return f"✖  {status.message}. Choose a source and press Connect.", "error"
    if lost and status.state in (AppState.LIVE, AppState.INSPECTING):
        meanwhile = "every part is NOT JUDGED until it is back" if triggered else "the other cameras go on"
        return f"⚠  {', '.join(lost)}: connection lost — reconnecting …   {meanwhile}", "warn"
    if model_problem:
        return f"✖  {model_problem}", "error"
    if ng_state == NgStoreState.DISK_FULL:
        return f"⚠  {ng_warning}", "warn"
    if not has_model and status.state in (AppState.LIVE, AppState.INSPECTING):
        return "No model loaded: frames are shown without verdicts. Load one with Model ▸ Load model….", "info"
    return "", ""


def idle_verdict(state: AppState, has_model: bool) -> tuple[str, str] | None:
    """``(text, detail)`` for the verdict tile outside INSPECTING; None while inspecting."""
    if state == AppState.INSPECTING:
        return None
    if state == AppState.LIVE:
        if has_model:
            return "PAUSED", "inspection stopped"
        return "NO MODEL", "frames shown without verdicts"
    if state in (AppState.RECONNECTING, AppState.ERROR):
        return "NO SIGNAL", "reconnecting …" if state == AppState.RECONNECTING else "source failed"
    return "—", "connecting …" if state == AppState.CONNECTING else "not connected"
