"""Access control, Qt-free: the engineer password, the machine-wide settings and the operator actions policy."""

from app.access.machine import MachineSettings, machine_settings_path, read_machine_settings
from app.access.password import AccessError, hash_password, verify_password
from app.access.policy import (
    DEFAULT_OPERATOR_ACTIONS,
    OPERATOR_ACTIONS,
    AccessSettings,
    PasswordState,
    PasswordStatus,
)

__all__ = [
    "DEFAULT_OPERATOR_ACTIONS",
    "OPERATOR_ACTIONS",
    "AccessError",
    "AccessSettings",
    "MachineSettings",
    "PasswordState",
    "PasswordStatus",
    "hash_password",
    "machine_settings_path",
    "read_machine_settings",
    "verify_password",
]
