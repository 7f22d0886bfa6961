"""The application's state machine: which state the station is in and which actions that allows.

Qt-free, so the GUI, the self-test and tests share it. The GUI enables its actions from
:meth:`StateMachine.enabled` and never keeps a separate notion of "connected" or "inspecting".

States::

    IDLE --connect--> CONNECTING --ok--> LIVE <--start/stop inspection--> INSPECTING
                          |                \\                                /
                          +--fail--> ERROR  +--source lost--> RECONNECTING -+  (recovers to where it was)
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from draem_core.errors import DraemError


class AppState(enum.Enum):
    """Where the inspection station is."""

    IDLE = "idle"  # no source open
    CONNECTING = "connecting"  # a source is being opened (off the GUI thread)
    LIVE = "live"  # frames arrive and are shown; no verdicts (no model, or inspection stopped)
    INSPECTING = "inspecting"  # every newest frame is judged OK/NG
    RECONNECTING = "reconnecting"  # the source was lost and is retrying on its own
    ERROR = "error"  # the source failed for good; the user must reconnect


TRANSITIONS: dict[AppState, frozenset[AppState]] = {
    AppState.IDLE: frozenset({AppState.CONNECTING}),
    AppState.CONNECTING: frozenset({AppState.LIVE, AppState.INSPECTING, AppState.ERROR, AppState.IDLE}),
    AppState.LIVE: frozenset({AppState.INSPECTING, AppState.RECONNECTING, AppState.ERROR, AppState.IDLE}),
    AppState.INSPECTING: frozenset({AppState.LIVE, AppState.RECONNECTING, AppState.ERROR, AppState.IDLE}),
    AppState.RECONNECTING: frozenset({AppState.LIVE, AppState.INSPECTING, AppState.ERROR, AppState.IDLE}),
    AppState.ERROR: frozenset({AppState.CONNECTING, AppState.IDLE}),
}

_ANY = frozenset(AppState)
_OPEN = frozenset({AppState.LIVE, AppState.INSPECTING, AppState.RECONNECTING})
ACTIONS: dict[str, frozenset[AppState]] = {
    "connect": frozenset({AppState.IDLE, AppState.ERROR}),
    "disconnect": _OPEN | {AppState.ERROR},
    "choose_source": frozenset({AppState.IDLE, AppState.ERROR}),
    "start_inspection": frozenset({AppState.LIVE}),
    "stop_inspection": frozenset({AppState.INSPECTING}),
    "camera_controls": frozenset({AppState.LIVE, AppState.INSPECTING}),
    "load_model": _ANY - {AppState.CONNECTING},
    "retrain": _ANY - {AppState.CONNECTING},
    "reset_counters": _ANY,
}


class InvalidTransition(DraemError):
    """A state change the machine does not allow (a programming error surfaced as a clear message)."""

    def __init__(self, current: AppState, wanted: AppState) -> None:
        self.current, self.wanted = current, wanted
        super().__init__(f"cannot go from {current.name} to {wanted.name}")


@dataclass(frozen=True)
class AppStatus:
    """A snapshot of the state machine."""

    state: AppState  # the current state
    message: str  # why it is there, for the status bar ("" when nothing to say)
    since: float  # time.monotonic() of the last change


class StateMachine:
    """Holds the state, checks transitions and tells a listener about every change.

    Args:
        on_change: Called with the new :class:`AppStatus` after each change, on the caller's thread.
    """

    def __init__(self, on_change: Callable[[AppStatus], None] | None = None) -> None:
        self._status = AppStatus(AppState.IDLE, "", time.monotonic())
        self._on_change = on_change
        self._lock = threading.Lock()

    @property
    def state(self) -> AppState:
        """The current state."""
        return self._status.state

    def status(self) -> AppStatus:
        """The current status snapshot."""
        return self._status

    def can_go(self, wanted: AppState) -> bool:
        """Whether ``wanted`` is reachable from the current state (staying put always is)."""
        return wanted == self.state or wanted in TRANSITIONS[self.state]

    def go(self, wanted: AppState, message: str = "") -> AppStatus:
        """Change state; re-entering the same state only updates the message.

        Raises:
            InvalidTransition: ``wanted`` is not reachable from the current state.
        """
        with self._lock:
            current = self._status.state
            if wanted != current and wanted not in TRANSITIONS[current]:
                raise InvalidTransition(current, wanted)
            since = self._status.since if wanted == current else time.monotonic()
            self._status = AppStatus(wanted, message, since)
            status = self._status
        if self._on_change is not None:
            self._on_change(status)
        return status

    def enabled(self, action: str) -> bool:
        """Whether ``action`` (a key of :data:`ACTIONS`) is allowed in the current state."""
        return self.state in ACTIONS[action]

    def actions(self) -> dict[str, bool]:
        """Every action and whether it is allowed now."""
        return {name: self.state in states for name, states in ACTIONS.items()}
