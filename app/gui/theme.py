"""The dark industrial theme: Fusion style, a dark palette, the bundled stylesheet and pyqtgraph options."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from app.paths import resources_dir

BACKGROUND = "#14171b"  # window background (also the image view's)
PANEL = "#1a1d21"  # cards and group boxes
TEXT = "#e3e7ec"
MUTED = "#8b949e"
ACCENT = "#3b8eea"  # selection, focus, the threshold line
OK_COLOR = "#1f9d55"  # verdict OK
NG_COLOR = "#d83a3a"  # verdict NG
WARN_COLOR = "#e2a336"  # reconnecting, warnings
IDLE_COLOR = "#3a414a"  # no verdict


def configure_pyqtgraph() -> None:
    """Row-major images (numpy ``(H, W[, C])``) and the theme's colours; call before creating plots."""
    pg.setConfigOptions(imageAxisOrder="row-major", background=BACKGROUND, foreground=MUTED, antialias=True)


def apply_theme(app: QApplication) -> None:
    """Fusion style with a dark palette (for widgets the stylesheet does not cover) and the stylesheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, BACKGROUND), (QPalette.ColorRole.WindowText, TEXT),
        (QPalette.ColorRole.Base, "#0f1114"), (QPalette.ColorRole.AlternateBase, "#15181c"),
        (QPalette.ColorRole.Text, TEXT), (QPalette.ColorRole.Button, "#242930"),
        (QPalette.ColorRole.ButtonText, TEXT), (QPalette.ColorRole.Highlight, "#2b5a8f"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"), (QPalette.ColorRole.ToolTipBase, PANEL),
        (QPalette.ColorRole.ToolTipText, TEXT), (QPalette.ColorRole.PlaceholderText, MUTED),
    ):  # fmt: skip
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#5c646d"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#5c646d"))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSizeF(10.0)
    app.setFont(font)
    app.setStyleSheet(stylesheet())
    configure_pyqtgraph()


def stylesheet() -> str:
    """The bundled stylesheet, or "" when it is missing (the palette alone still gives a dark window)."""
    path = resources_dir() / "styles" / "dark.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
