"""The status bar: the app state as a coloured badge, the latest message, the mode."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QLabel, QStatusBar

from app.gui.theme import ACCENT, IDLE_COLOR, NG_COLOR, OK_COLOR, WARN_COLOR
from app.state import AppState, AppStatus

STATE_COLORS = {
    AppState.IDLE: IDLE_COLOR,
    AppState.CONNECTING: ACCENT,
    AppState.LIVE: ACCENT,
    AppState.INSPECTING: OK_COLOR,
    AppState.RECONNECTING: WARN_COLOR,
    AppState.ERROR: NG_COLOR,
}
FLASH_S = 12  # how long a message stays


class StatusView:
    """Writes into a QStatusBar."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.badge = QLabel("IDLE")
        self.badge.setObjectName("StateBadge")
        self.mode = QLabel("ENGINEER")
        self.mode.setObjectName("Muted")
        bar.addWidget(self.badge)
        bar.addPermanentWidget(self.mode)
        self.last_message = ""
        self.last_error = ""
        self._error_until = 0.0

    def set_state(self, status: AppStatus) -> None:
        color = STATE_COLORS[status.state]
        self.badge.setText(status.state.name)
        self.badge.setStyleSheet(f"background: {color}; color: #ffffff;")
        if status.message:
            self.flash(status.message)

    def flash(self, message: str, error: bool = False) -> None:
        """Show a message; errors stay visible over later plain messages for a while."""
        now = time.monotonic()
        if not error and now < self._error_until:
            return
        self.last_message = message
        if error:
            self.last_error = message
            self._error_until = now + FLASH_S
        self.bar.showMessage(("✖ " if error else "") + message, FLASH_S * 1000)

    def set_mode(self, operator: bool) -> None:
        self.mode.setText("OPERATOR MODE" if operator else "ENGINEER MODE")
