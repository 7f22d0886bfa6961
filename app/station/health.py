"""What the station's health means for the operator: the state to be in, the banner, the idle verdict tile.

Plain functions over frozen snapshots, so the GUI, the headless runner and the self-test say the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.ng_store import NgStoreState
from app.sources.base import SourceState
from app.state import AppState, AppStatus


@dataclass(frozen=True)
class CameraHealth:
    """One camera's health as the station last read it."""

    name: str  # the source's name
    state: SourceState  # the source's own state
    error: str  # the source's last error ("" when none)


def next_state(current: AppState, cameras: Sequence[CameraHealth]) -> tuple[AppState, str] | None:
    """The state the cameras' health calls for, with the message; None when the state stays.

    A lost camera (reconnecting) makes the station RECONNECTING, a failed one ERROR; when every camera is live
    again a RECONNECTING station goes back (the caller knows where to). The first camera in trouble names it.
    """
    failed = [c for c in cameras if c.state == SourceState.ERROR]
    lost = [c for c in cameras if c.state == SourceState.RECONNECTING]
    if failed and current != AppState.ERROR:
        c = failed[0]
        return AppState.ERROR, f"{c.name} failed: {c.error or 'unknown error'}"
    if lost and current in (AppState.LIVE, AppState.INSPECTING):
        c = lost[0]
        detail = f" ({c.error})" if c.error else ""
        return AppState.RECONNECTING, f"{c.name}: connection lost, reconnecting …{detail}"
    if current == AppState.RECONNECTING and cameras and not failed and not lost:
        if all(c.state == SourceState.LIVE for c in cameras):
            return AppState.LIVE, f"{cameras[0].name}: reconnected"  # the caller resumes LIVE or INSPECTING
    return None


def banner(status: AppStatus, *, has_model: bool, ng_state: NgStoreState | None = None,
           ng_warning: str = "", model_problem: str = "") -> tuple[str, str]:  # fmt: skip
    """``(text, level)`` of the banner over the view; the most urgent condition wins, ``("", "")`` when all is well."""
    if status.state == AppState.RECONNECTING:
        return f"⚠  Camera connection lost — reconnecting …   {status.message}", "warn"
    if status.state == AppState.ERROR:
        return f"✖  {status.message}. Choose a source and press Connect.", "error"
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
