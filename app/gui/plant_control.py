"""The window's plant side: the Plant dock and the toolbar's recipe selector over a Qt-free :class:`Plant`.

Settings live under ``plant/`` in the window's QSettings (the OPC UA password only as a salted hash; an MQTT
password, which the client must send, inside the broker URL). Starting a protocol and switching a recipe run off
the GUI thread; a switch from OPC UA or MQTT comes back here (``switched``) to update the window.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QDockWidget

from app.gui.plant_panel import PlantPanel, RecipeSelector
from app.gui.tasks import run_task
from app.plant.mqtt_output import MqttConfig, MqttError, station_name
from app.plant.opcua_security import Login, hash_password
from app.plant.opcua_server import DEFAULT_ENDPOINT, OpcUaConfig
from app.plant.plant import Plant
from app.recipes import CameraEntry, Recipe, RecipeError, check_name
from app.registry import VERSION_RE

STATUS_MS = 1000  # the status lines are refreshed this often


class PlantSettings:
    """Typed access to the ``plant/`` keys of the window's settings."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def get(self, key: str, default):
        value = self.store.value(f"plant/{key}", default)
        if isinstance(default, bool):
            return str(value).strip().lower() in ("true", "1", "yes", "on")
        return str(value) if value is not None else default

    def set(self, key: str, value) -> None:
        self.store.setValue(f"plant/{key}", value)

    def opcua(self) -> OpcUaConfig:
        user, stored = self.get("opcua_user", ""), self.get("opcua_password_hash", "")
        logins = (Login(user, stored),) if user and stored else ()
        return OpcUaConfig(endpoint=self.get("opcua_endpoint", DEFAULT_ENDPOINT) or DEFAULT_ENDPOINT, logins=logins,
                           anonymous=self.get("opcua_anonymous", False), insecure=self.get("opcua_insecure", False))  # fmt: skip

    def mqtt(self) -> MqttConfig:
        ca = self.get("mqtt_ca", "")
        return MqttConfig(self.get("mqtt_url", ""), station=self.get("station", ""), ca_file=Path(ca) if ca else None)


class PlantControl(QObject):
    """Builds the Plant dock and the recipe selector into ``window`` and carries out what they ask.

    Args:
        window: The :class:`~app.gui.main_window.MainWindow` (its station, settings, errors, docks, toolbar).
    """

    switched = Signal(object)  # a Recipe now in force (on the GUI thread)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.settings = PlantSettings(window.settings.store)
        self.plant = Plant(window.station, data_dir=window.data_dir, run=run_task, name=self._station_name(),
                           on_switched=self.switched.emit, on_error=window.errors)  # fmt: skip
        self.panel = PlantPanel()
        self.selector = RecipeSelector()
        self._dock(window)
        window.commands.toolbar.addWidget(self.selector)
        self._wire()
        self._fill()
        self.timer = QTimer(self, interval=STATUS_MS, timeout=self.refresh)
        self.timer.start()
        for key, start in (("opcua_enabled", self.apply_opcua), ("mqtt_enabled", self.apply_mqtt)):
            if self.settings.get(key, False):
                start()

    def _station_name(self) -> str:
        name = self.settings.get("station", "")
        try:
            return station_name(name)
        except MqttError as exc:  # a hand-edited settings file: the host name instead, and say so
            self.window.errors("MQTT", exc)
            return station_name("")

    def _dock(self, window) -> None:
        dock = QDockWidget("Plant", window)
        dock.setObjectName("dock-plant")
        dock.setWidget(self.panel)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        window.tabifyDockWidget(window.docks[-1], dock)
        window.docks[1].raise_()
        window.docks.append(dock)  # hidden in operator mode with the other docks
        self.dock = dock

    def _wire(self) -> None:
        p = self.panel
        self.selector.switchRequested.connect(self.window.set_recipe)  # the access policy and the audit log decide
        self.switched.connect(self._on_switched)
        p.saveRequested.connect(self.save_current)
        p.deleteRequested.connect(self.delete)
        p.opcuaApplied.connect(self._opcua_fields_applied)
        p.mqttApplied.connect(self._mqtt_fields_applied)

    def _fill(self) -> None:
        s, p = self.settings, self.panel
        p.opcua_on.setChecked(s.get("opcua_enabled", False))
        p.endpoint.setText(s.get("opcua_endpoint", DEFAULT_ENDPOINT))
        p.opcua_user.setText(s.get("opcua_user", ""))
        p.anonymous.setChecked(s.get("opcua_anonymous", False))
        p.insecure.setChecked(s.get("opcua_insecure", False))
        p.mqtt_on.setChecked(s.get("mqtt_enabled", False))
        p.broker.setText(s.get("mqtt_url", ""))
        p.ca_file.setText(s.get("mqtt_ca", ""))
        p.station_name.setText(s.get("station", ""))
        self.show_recipes()

    # --- recipes -----------------------------------------------------------------------------------

    def resume_recipe(self) -> bool:
        """Switch to the active recipe at start-up; False when there is none (or it cannot be used: reported)."""
        name = self.plant.recipes.active_name()
        if name is None:
            return False
        try:
            self.plant.switcher.check(name)
        except Exception as exc:  # noqa: BLE001 - reported; the window opens its usual model instead
            self.window.errors("recipe", exc)
            return False
        self.switch(name)
        return True

    def switch(self, name: str) -> None:
        """Switch the station to recipe ``name`` (in the background; the outcome is flashed or reported)."""
        self.window.status.flash(f"switching to recipe {name} …")
        self.plant.switcher.switch(name)

    def save_current(self, name: str) -> None:
        """Store what the station uses now as recipe ``name`` (the file is written off the GUI thread)."""
        try:
            recipe = self.current_recipe(check_name(name))
        except RecipeError as exc:
            self.window.errors("recipe", exc)
            return
        run_task(lambda: self.plant.recipes.save(recipe), lambda path: self._saved(name, path),
                 lambda exc: self.window.errors("recipe", exc))  # fmt: skip

    def _saved(self, name: str, path) -> None:
        self.window.status.flash(f"recipe {name} saved to {path}")
        self.show_recipes()

    def current_recipe(self, name: str) -> Recipe:
        """The station's current models, threshold and region as a recipe (one entry per connected camera)."""
        station = self.window.station
        if station.model_path is None:
            raise RecipeError(name, "no model is loaded to save")
        inspector = station.inspector
        calibrated = inspector.calibration.threshold if inspector is not None and inspector.calibration else None
        threshold = station.threshold
        threshold = None if threshold is None or (calibrated is not None and abs(threshold - calibrated) < 1e-9) else threshold
        count = max(1, len(station.cameras))
        entries = tuple(self._entry(i, station.camera_models.get(i, station.model_path), threshold, station.roi)
                        for i in range(count))  # fmt: skip
        return Recipe(name, entries, self.window.settings.reject(), note="saved from the window")

    def _entry(self, index: int, model: Path, threshold: float | None, roi) -> CameraEntry:
        registry_root = self.plant.registry.root.resolve()
        folder = Path(model).resolve().parent
        if folder.parent == registry_root and VERSION_RE.match(folder.name):
            return CameraEntry(index, model_version=folder.name, threshold=threshold, roi=roi)
        return CameraEntry(index, model_file=str(Path(model).resolve()), threshold=threshold, roi=roi)

    def delete(self, name: str) -> None:
        try:
            self.plant.recipes.delete(check_name(name))
        except (RecipeError, OSError) as exc:
            self.window.errors("recipe", exc)
            return
        self.window.status.flash(f"recipe {name} deleted")
        self.show_recipes()

    def show_recipes(self, chosen: str | None = None) -> None:
        names, active = self.plant.recipes.names(), self.plant.station.recipe
        self.selector.show_recipes(names, chosen or active)
        self.panel.active.setText(active or "none")

    def _on_switched(self, recipe: Recipe) -> None:
        """Show what the recipe changed: threshold, region, model, reject outputs."""
        w, station = self.window, self.window.station
        w.show_model_of(w.cams.selected)
        w.board.trend.clear_history()
        for camera in range(max(1, len(station.cameras))):
            roi = station.values.roi(camera)
            w.board.view_of(camera).set_roi_enabled(roi is not None, roi)
        w.controls.set_roi_enabled(station.values.roi(w.cams.selected) is not None)
        w.controls.set_reject(station.reject_config)
        w.status.flash(f"recipe {recipe.name} in force")
        self.show_recipes(recipe.name)

    def set_operator(self, operator: bool, may_select: bool) -> None:
        """Operator mode: the selector stays only when the operator actions allow selecting a recipe."""
        self.selector.setVisible(not operator or may_select)

    # --- protocols ---------------------------------------------------------------------------------

    def _opcua_fields_applied(self) -> None:
        p, s = self.panel, self.settings
        s.set("opcua_enabled", p.opcua_on.isChecked())
        s.set("opcua_endpoint", p.endpoint.text().strip() or DEFAULT_ENDPOINT)
        s.set("opcua_user", p.opcua_user.text().strip())
        s.set("opcua_anonymous", p.anonymous.isChecked())
        s.set("opcua_insecure", p.insecure.isChecked())
        if p.opcua_password.text():
            s.set("opcua_password_hash", hash_password(p.opcua_password.text()))
            p.opcua_password.clear()
        self.apply_opcua()

    def apply_opcua(self) -> None:
        """Start, restart or stop the server as the settings say (off the GUI thread: it makes a certificate)."""
        plant, config = self.plant, self.settings.opcua()
        enabled = self.settings.get("opcua_enabled", False)
        self.panel.opcua_status.setText("starting …" if enabled else "off")
        run_task(lambda: plant.start_opcua(config) if enabled else plant.stop_opcua(), lambda _: self.refresh(),
                 lambda exc: self._failed("OPC UA", exc))  # fmt: skip

    def _mqtt_fields_applied(self) -> None:
        p, s = self.panel, self.settings
        s.set("mqtt_enabled", p.mqtt_on.isChecked())
        s.set("mqtt_url", p.broker.text().strip())
        s.set("mqtt_ca", p.ca_file.text().strip())
        s.set("station", p.station_name.text().strip())
        self.apply_mqtt()

    def apply_mqtt(self) -> None:
        """Connect, reconnect or disconnect as the settings say (the connection itself is in the background)."""
        plant, config = self.plant, self.settings.mqtt()
        enabled = self.settings.get("mqtt_enabled", False)
        run_task(lambda: plant.start_mqtt(config) if enabled else plant.stop_mqtt(), lambda _: self.refresh(),
                 lambda exc: self._failed("MQTT", exc))  # fmt: skip

    def _failed(self, where: str, exc: BaseException) -> None:
        self.window.errors(where, exc)
        label = self.panel.opcua_status if where == "OPC UA" else self.panel.mqtt_status
        label.setText(f"not running: {exc}")

    def refresh(self) -> None:
        """The status lines (the 1 s timer)."""
        plant = self.plant
        if plant.opcua is not None:
            self.panel.opcua_status.setText(plant.opcua.status())
        elif not self.settings.get("opcua_enabled", False):
            self.panel.opcua_status.setText("off")
        if plant.mqtt is not None:
            self.panel.mqtt_status.setText(plant.mqtt.status())
        elif not self.settings.get("mqtt_enabled", False):
            self.panel.mqtt_status.setText("off")
