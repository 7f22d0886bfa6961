"""The window's actions, menus and toolbar. Actions named like :data:`app.state.ACTIONS` follow the state."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QSizePolicy, QToolBar, QWidget

STATE_ACTIONS = ("connect", "disconnect", "start_inspection", "stop_inspection", "load_model", "retrain",
                 "reset_counters")  # fmt: skip
ENGINEER_ONLY = ("connect", "disconnect", "load_model", "retrain", "station")  # hidden in operator mode


class WindowActions:
    """Creates the actions of a window (whose methods they call) and puts them in menus and a toolbar."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = w = window
        s = w.station
        a = self._action
        self.by_name: dict[str, QAction] = {
            "connect": a("Connect", w.connect_selected, "F5", "Open the source chosen in the Source panel"),
            "disconnect": a("Disconnect", s.disconnect_source, "Shift+F5", "Close the source"),
            "station": a("Station cameras…", w.cams.edit_station, None, "Inspect each part with up to four cameras, "
                         "each with its model"),  # fmt: skip
            "start_inspection": a(
                "Start inspection", lambda: s.set_inspecting(True), "F9", "Judge every frame"
            ),
            "stop_inspection": a(
                "Stop inspection", lambda: s.set_inspecting(False), "Shift+F9", "Show frames only"
            ),
            "load_model": a("Load model…", w.choose_model_file, "Ctrl+O", "Load a model file"),
            "retrain": a("Retrain…", w.open_retrain_wizard, "Ctrl+T", "Collect images and train a new model"),
            "reset_counters": a("Reset counters", w.reset_counters, "Ctrl+R", "Zero inspected / NG counters"),
        }
        self.trigger = a("Trigger", lambda: w.trigger(""), "F8", "Judge the part in front of the camera now "
                         "(software-trigger mode)")  # fmt: skip
        self.export = a("Export trace…", w.export_trace, None, "Write the inspections of a time range as CSV")
        self.fullscreen = a("Full screen", w.toggle_fullscreen, "F11")
        self.mode = a("Operator mode", w.toggle_mode, "Ctrl+M", "Switch between operator and engineer mode")
        self.password = a("Change engineer password…", w.modes.change_password)
        self.about = a("About draem-inspect", w.about)
        self.quit = a("Quit", w.close, "Ctrl+Q")
        self._menus()
        self.toolbar = self._toolbar()

    def _action(self, text: str, slot: Callable, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        action.triggered.connect(lambda *_: slot())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(f"{tip or text} ({shortcut})" if shortcut else tip or text)
        return action

    def _menus(self) -> None:
        n = self.by_name
        menus = (
            ("&File", (self.export, None, self.quit)),
            ("&Source", (n["connect"], n["disconnect"], None, n["station"])),
            ("&Inspection", (n["start_inspection"], n["stop_inspection"], self.trigger, None, n["reset_counters"])),
            ("&Model", (n["load_model"], n["retrain"])),
            ("&View", (self.mode, self.fullscreen, None, self.password)),
            ("&Help", (self.about,)),
        )
        bar = self.window.menuBar()
        for title, items in menus:
            menu = bar.addMenu(title)
            for item in items:
                menu.addAction(item) if item else menu.addSeparator()

    def _toolbar(self) -> QToolBar:
        bar = self.window.addToolBar("Main")
        bar.setObjectName("toolbar-main")
        bar.setMovable(False)
        for name in ("connect", "disconnect", None, "start_inspection", "stop_inspection", None, "load_model",
                     "retrain", None, "reset_counters"):  # fmt: skip
            bar.addAction(self.by_name[name]) if name else bar.addSeparator()
        bar.addAction(self.trigger)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(self.mode)
        bar.addAction(self.fullscreen)
        return bar

    def enable_from(self, enabled: Callable[[str], bool]) -> None:
        """Enable each state action as the state machine allows."""
        for name in STATE_ACTIONS:
            self.by_name[name].setEnabled(enabled(name))

    def set_operator(self, operator: bool) -> None:
        """Operator mode: engineering actions and the menu bar disappear."""
        for name in ENGINEER_ONLY:
            self.by_name[name].setVisible(not operator)
        self.window.menuBar().setVisible(not operator)
        self.mode.setText("Engineer mode…" if operator else "Operator mode")
