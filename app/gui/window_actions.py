"""The window's actions, menus and toolbar. Actions named like :data:`app.state.ACTIONS` follow the state; in
operator mode only those the access policy allows are shown (:mod:`app.gui.access`)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QSizePolicy, QToolBar, QWidget

from app.gui.audit_trail import export_audit
from app.gui.diagnostics_action import save_diagnostics

STATE_ACTIONS = ("connect", "disconnect", "start_inspection", "stop_inspection", "load_model", "retrain",
                 "reset_counters")  # fmt: skip


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
                "Start inspection", lambda: w.set_inspecting(True), "F9", "Judge every frame"
            ),
            "stop_inspection": a(
                "Stop inspection", lambda: w.set_inspecting(False), "Shift+F9", "Show frames only"
            ),
            "load_model": a("Load model…", w.choose_model_file, "Ctrl+O", "Load a model file"),
            "retrain": a("Retrain…", w.open_retrain_wizard, "Ctrl+T", "Collect images and train a new model"),
            "reset_counters": a("Reset counters", w.reset_counters, "Ctrl+R", "Zero inspected / NG counters"),
        }
        self.trigger = a("Trigger", lambda: w.trigger(""), "F8", "Judge the part in front of the camera now "
                         "(software-trigger mode)")  # fmt: skip
        self.export = a("Export trace…", w.export_trace, None, "Write the inspections of a time range as CSV")
        self.export_audit = a("Export audit log…", lambda: export_audit(w), None,
                              "Write who changed what (threshold, model, recipe, mode, outputs) in a time range as CSV")
        self.fullscreen = a("Full screen", w.toggle_fullscreen, "F11")
        self.mode = a("Operator mode", w.toggle_mode, "Ctrl+M", "Switch between operator and engineer mode")
        self.password = a("Change engineer password…", w.modes.change_password)
        self.operator_actions = a("Operator actions…", w.modes.edit_operator_actions, None,
                                  "Choose what operators may do (stop inspection, reset counters, …)")
        self.diagnostics = a("Save diagnostics…", lambda: save_diagnostics(w), None,
                             "Write a zip for support: logs, settings, versions, cameras, registry, last inspections")
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
            ("&File", (self.export, self.export_audit, None, self.quit)),
            ("&Source", (n["connect"], n["disconnect"], None, n["station"])),
            ("&Inspection", (n["start_inspection"], n["stop_inspection"], self.trigger, None, n["reset_counters"])),
            ("&Model", (n["load_model"], n["retrain"])),
            ("&View", (self.mode, self.fullscreen, None, self.password, self.operator_actions)),
            ("&Help", (self.diagnostics, None, self.about)),
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

    def set_operator(self, operator: bool, allows: Callable[[str], bool]) -> None:
        """Operator mode: the menu bar and every action the mode does not ``allows`` disappear."""
        for name, action in self.by_name.items():
            action.setVisible(allows(name))
        self.trigger.setVisible(allows("trigger"))
        self.window.menuBar().setVisible(not operator)
        self.mode.setText("Engineer mode…" if operator else "Operator mode")
