"""The app state machine (Qt-free): transitions, actions allowed per state, listeners."""

from __future__ import annotations

import pytest

from app.state import ACTIONS, AppState, InvalidTransition, StateMachine


def test_normal_life_cycle_and_actions() -> None:
    seen = []
    machine = StateMachine(on_change=seen.append)
    assert machine.state == AppState.IDLE and machine.enabled("connect") and not machine.enabled("disconnect")
    machine.go(AppState.CONNECTING, "opening demo")
    assert not machine.enabled("connect") and not machine.enabled("load_model")
    machine.go(AppState.INSPECTING)
    assert machine.enabled("stop_inspection") and not machine.enabled("start_inspection")
    assert machine.enabled("camera_controls") and machine.enabled("disconnect")
    machine.go(AppState.RECONNECTING, "lost")
    assert not machine.enabled("camera_controls") and machine.enabled("disconnect")
    machine.go(AppState.INSPECTING)
    machine.go(AppState.LIVE)
    assert machine.enabled("start_inspection")
    machine.go(AppState.IDLE)
    assert [s.state for s in seen] == [AppState.CONNECTING, AppState.INSPECTING, AppState.RECONNECTING,
                                       AppState.INSPECTING, AppState.LIVE, AppState.IDLE]  # fmt: skip
    assert seen[0].message == "opening demo"


def test_invalid_transitions_are_refused() -> None:
    machine = StateMachine()
    with pytest.raises(InvalidTransition, match="IDLE to INSPECTING"):
        machine.go(AppState.INSPECTING)
    machine.go(AppState.CONNECTING)
    machine.go(AppState.ERROR, "no camera")
    with pytest.raises(InvalidTransition):
        machine.go(AppState.LIVE)  # from ERROR only a new connect or IDLE
    assert machine.enabled("connect") and machine.status().message == "no camera"


def test_same_state_updates_the_message_only() -> None:
    machine = StateMachine()
    first = machine.go(AppState.CONNECTING, "a")
    second = machine.go(AppState.CONNECTING, "b")
    assert second.since == first.since and second.message == "b"


def test_every_action_names_known_states() -> None:
    assert all(states <= set(AppState) for states in ACTIONS.values())
    assert StateMachine().actions()["reset_counters"]
