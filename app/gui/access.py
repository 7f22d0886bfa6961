"""What each mode shows and allows in the window, and the per-user QSettings as the access policy's user layer.

The rules themselves are Qt-free (:mod:`app.access`); :class:`~app.gui.modes.ModeSwitch` holds the mode.
Operator mode hides the engineering panels, the menu bar and the docks' context menu, locks the region and the
threshold, closes the retrain wizard (a running training keeps going in its own process) and offers only the
operator actions the policy allows (:data:`app.access.policy.OPERATOR_ACTIONS`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.access import AccessSettings, read_machine_settings


class QSettingsLayer:
    """The per-user QSettings as :class:`app.access.policy.UserLayer`; every write reaches the disk at once."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def value(self, key: str) -> str | None:
        raw = self.store.value(key, None)
        if raw is None:
            return None
        return ",".join(str(v) for v in raw) if isinstance(raw, (list, tuple)) else str(raw)  # INI: "a, b" is a list

    def set_value(self, key: str, value: str) -> None:
        self.store.setValue(key, value)
        self.store.sync()


def open_access(store: QSettings, machine_file: Path | None = None) -> AccessSettings:
    """The station's access rules: the machine-wide file (default location when None) over ``store``."""
    return AccessSettings(QSettingsLayer(store), read_machine_settings(machine_file))


def apply_mode(window, operator: bool) -> None:
    """Show the window as ``operator`` (True) or engineer mode allows (called by the mode switch)."""
    allows = window.modes.allows
    window.audit.settle()  # a threshold still being dragged is recorded under the role that changed it
    for dock in window.docks:
        dock.setVisible(not operator)
    window.commands.set_operator(operator, allows)
    for view in window.board.tiles.views if window.board.tiles is not None else [window.board.view]:
        view.set_roi_editable(not operator)
    window.board.trend.set_editable(not operator)
    window.board.counters.reset.setVisible(allows("reset_counters"))
    window.status.set_mode(operator)
    window.plant.set_operator(operator, allows("select_recipe"))
    window.enable_actions()
    if operator:
        from app.gui.retrain_link import close_wizard

        close_wizard(window)
