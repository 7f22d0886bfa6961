"""How the app state shows: the verdict tile when there is no verdict, and the banner over the view."""

from __future__ import annotations

from app.gui.layout import StationLayout
from app.gui.session import InspectionSession
from app.ng_store import NgStoreState
from app.state import AppState


def show_idle_verdict(station: StationLayout, session: InspectionSession) -> None:
    """Outside INSPECTING the verdict tile says why there is no verdict."""
    state, verdict, has_model = session.state, station.verdict, session.inspector is not None
    if state == AppState.INSPECTING:
        return
    if state == AppState.LIVE:
        verdict.show_message("PAUSED" if has_model else "NO MODEL",
                             "inspection stopped" if has_model else "frames shown without verdicts")  # fmt: skip
    elif state in (AppState.RECONNECTING, AppState.ERROR):
        verdict.show_message(
            "NO SIGNAL", "reconnecting …" if state == AppState.RECONNECTING else "source failed"
        )
    else:
        verdict.show_message("—", "connecting …" if state == AppState.CONNECTING else "not connected")


def banner_for(session: InspectionSession) -> tuple[str, str]:
    """``(text, level)`` of the banner; the most urgent condition wins, ``("", "")`` when all is well."""
    status, store = session.status(), session.ng_store
    if status.state == AppState.RECONNECTING:
        return f"⚠  Camera connection lost — reconnecting …   {status.message}", "warn"
    if status.state == AppState.ERROR:
        return f"✖  {status.message}. Choose a source and press Connect.", "error"
    if store is not None and store.state == NgStoreState.DISK_FULL:
        return f"⚠  {store.warning}", "warn"
    if session.inspector is None and status.state in (AppState.LIVE, AppState.INSPECTING):
        return (
            "No model loaded: frames are shown without verdicts. Load one with Model ▸ Load model….",
            "info",
        )
    return "", ""
