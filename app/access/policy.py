"""Who may do what: the engineer password's state and the actions an operator may use.

Two layers: the machine-wide file (:mod:`app.access.machine`), read first and locking every key it holds, and the
per-user settings (any :class:`UserLayer`; the window passes its QSettings). There is no default password: until
one is set, the password is UNSET and the first switch to engineer mode sets it. Once set, a missing or damaged
hash LOCKS engineer mode instead of resetting it; IT recovers with ``draem-inspect access set-password``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from app.access.machine import MachineSettings
from app.access.password import AccessError, is_well_formed

PASSWORD_KEY = "security/engineer_password"  # the hash
PASSWORD_SET_KEY = "security/password_set"  # written with the first per-user hash: a later missing hash locks
ACTIONS_KEY = "access/operator_actions"  # comma-separated names of OPERATOR_ACTIONS
PER_USER = "per-user settings"  # how the per-user layer is named in messages and in the audit log
OPERATOR_ACTIONS = {  # every action the operator-actions setting can allow -> what it lets an operator do
    "start_inspection": "Start inspection",
    "stop_inspection": "Stop inspection (frames are then shown without verdicts)",
    "reset_counters": "Reset the production counters",
    "trigger": "Software trigger (judge the part in front of the camera)",
    "select_recipe": "Choose the recipe",
}
DEFAULT_OPERATOR_ACTIONS = frozenset({"start_inspection", "trigger", "select_recipe"})
RECOVERY = "ask IT to set a new one: draem-inspect access set-password (run as administrator; see docs/gui.md)"


class UserLayer(Protocol):
    """The per-user settings: string values by ``section/key``."""

    def value(self, key: str) -> str | None: ...  # None when absent

    def set_value(self, key: str, value: str) -> None: ...


class PasswordState(enum.Enum):
    """Whether engineer mode can be entered, and how."""

    UNSET = "unset"  # no password was ever set: the first switch to engineer mode sets one
    SET = "set"  # a password opens engineer mode
    LOCKED = "locked"  # the password is missing or damaged after being set: nobody enters until IT resets it


@dataclass(frozen=True)
class PasswordStatus:
    """The engineer password as the two layers say."""

    state: PasswordState
    stored: str = ""  # the hash to verify against (SET)
    source: str = PER_USER  # where it lives: PER_USER or the machine-wide file's path
    reason: str = ""  # LOCKED: why, in one line

    @property
    def machine_wide(self) -> bool:
        return self.source != PER_USER


def parse_actions(text: str) -> frozenset[str]:
    """Operator actions from ``"start_inspection, trigger"``; ``none`` or "" = no action; unknown names (a newer
    version's) are left out."""
    names = {n.strip().lower() for n in str(text).replace(";", ",").split(",")}
    return frozenset(names & OPERATOR_ACTIONS.keys())


def format_actions(actions: Iterable[str]) -> str:
    """The setting's text for ``actions`` (``none`` when empty)."""
    return ",".join(sorted(set(actions) & OPERATOR_ACTIONS.keys())) or "none"


class AccessSettings:
    """The access rules of one station: the machine-wide file over the per-user settings."""

    def __init__(self, user: UserLayer, machine: MachineSettings) -> None:
        self.user = user
        self.machine = machine

    # --- password ----------------------------------------------------------------------------------

    def password_status(self) -> PasswordStatus:
        """SET, UNSET or LOCKED with the reason (cheap: no hashing).

        UNSET only means no layer holds a password or a trace of one; the window also asks the audit log
        whether a per-user password was ever set before it offers to set the first one.
        """
        m = self.machine
        if m.problem:
            return _locked(PER_USER, f"the machine-wide access settings: {m.problem}")
        stored = m.get(PASSWORD_KEY)
        if stored is not None:
            where = str(m.path)
            return PasswordStatus(PasswordState.SET, stored, where) if is_well_formed(stored) else \
                _locked(where, f"the engineer password in {where} is missing or damaged")  # fmt: skip
        stored = self.user.value(PASSWORD_KEY)
        if stored is not None:
            return PasswordStatus(PasswordState.SET, stored) if is_well_formed(stored) else \
                _locked(PER_USER, f"the engineer password in the {PER_USER} is damaged")  # fmt: skip
        if self.user.value(PASSWORD_SET_KEY) is not None:
            return _locked(PER_USER, f"the engineer password was removed from the {PER_USER}")
        return PasswordStatus(PasswordState.UNSET)

    def store_password(self, hashed: str) -> None:
        """Keep a new hash in the per-user settings (with the marker that makes a later missing hash lock).

        Raises:
            AccessError: the machine-wide file decides the password.
        """
        if self.machine.locks(PASSWORD_KEY):
            msg = f"the engineer password is set machine-wide in {self.machine.path}; {RECOVERY}"
            raise AccessError(msg)
        self.user.set_value(PASSWORD_KEY, hashed)
        self.user.set_value(PASSWORD_SET_KEY, "true")

    # --- operator actions --------------------------------------------------------------------------

    @property
    def actions_locked(self) -> bool:
        """The machine-wide file decides the operator actions."""
        return self.machine.locks(ACTIONS_KEY)

    def operator_actions(self) -> frozenset[str]:
        """What an operator may do: the machine-wide list, else the per-user one, else the defaults (also when
        the machine-wide file cannot be read: the per-user layer is never trusted then)."""
        m = self.machine
        if m.problem:
            return DEFAULT_OPERATOR_ACTIONS
        text = m.get(ACTIONS_KEY)
        if text is None:
            text = self.user.value(ACTIONS_KEY)
        return DEFAULT_OPERATOR_ACTIONS if text is None else parse_actions(text)

    def set_operator_actions(self, actions: Iterable[str]) -> None:
        """Keep the operator actions in the per-user settings.

        Raises:
            AccessError: the machine-wide file decides them.
        """
        if self.actions_locked:
            msg = f"the operator actions are set machine-wide in {self.machine.path}"
            raise AccessError(msg)
        self.user.set_value(ACTIONS_KEY, format_actions(actions))


def _locked(source: str, reason: str) -> PasswordStatus:
    return PasswordStatus(PasswordState.LOCKED, source=source, reason=f"{reason}; {RECOVERY}")
