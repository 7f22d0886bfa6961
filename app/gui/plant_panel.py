"""The Plant panel (engineer mode): recipes, the OPC UA server and the MQTT client; and the toolbar's recipe selector.

Widgets only: they show settings and emit what the engineer asked for; :mod:`app.gui.plant_control` acts.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.plant.opcua_server import DEFAULT_ENDPOINT


class RecipeSelector(QWidget):
    """A recipe list and a Switch button (the toolbar's; operators see it only when the operator actions allow
    selecting a recipe: View ▸ Operator actions…)."""

    switchRequested = Signal(str)  # recipe name

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        self.label = QLabel("Recipe")
        self.names = QComboBox()
        self.names.setMinimumContentsLength(14)
        self.names.setToolTip("The product: each camera's model, settings, region and threshold")
        self.switch = QPushButton("Switch")
        self.switch.setToolTip("Switch the station to the chosen recipe (parts in flight finish under the old one)")
        row.addWidget(self.label)
        row.addWidget(self.names)
        row.addWidget(self.switch)
        self.switch.clicked.connect(self._switch_clicked)

    def show_recipes(self, names: list[str], chosen: str) -> None:
        """List ``names`` with ``chosen`` selected (no signal)."""
        self.names.blockSignals(True)
        self.names.clear()
        self.names.addItems(names)
        if chosen in names:
            self.names.setCurrentText(chosen)
        self.names.blockSignals(False)
        self.switch.setEnabled(bool(names))

    def _switch_clicked(self) -> None:
        name = self.names.currentText()
        if name:
            self.switchRequested.emit(name)


class PlantPanel(QWidget):
    """Recipes (save, delete, who may switch), OPC UA and MQTT settings with their status lines."""

    saveRequested = Signal(str)  # save the station's current settings as this recipe
    deleteRequested = Signal(str)
    opcuaApplied = Signal()  # read the OPC UA fields and (re)start or stop the server
    mqttApplied = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        layout.addWidget(self._recipe_box())
        layout.addWidget(self._opcua_box())
        layout.addWidget(self._mqtt_box())
        layout.addStretch(1)

    def _recipe_box(self) -> QGroupBox:
        box = QGroupBox("Recipes")
        form = QFormLayout(box)
        self.active = QLabel("none")
        self.recipe_name = QLineEdit()
        self.recipe_name.setPlaceholderText("name, e.g. housing-A")
        save = QPushButton("Save current")
        save.setToolTip("Store the model, region, threshold, camera settings and reject output now in use")
        delete = QPushButton("Delete")
        row = QHBoxLayout()
        row.addWidget(self.recipe_name, 1)
        row.addWidget(save)
        row.addWidget(delete)
        form.addRow("In force", self.active)
        form.addRow(row)
        save.clicked.connect(lambda: self.saveRequested.emit(self.recipe_name.text().strip()))
        delete.clicked.connect(lambda: self.deleteRequested.emit(self.recipe_name.text().strip()))
        return box

    def _opcua_box(self) -> QGroupBox:
        box = QGroupBox("OPC UA server")
        form = QFormLayout(box)
        self.opcua_on = QCheckBox("Serve the station over OPC UA")
        self.endpoint = QLineEdit()
        self.endpoint.setPlaceholderText(DEFAULT_ENDPOINT)
        self.endpoint.setToolTip("opc.tcp://127.0.0.1:4840 keeps it on this PC; opc.tcp://0.0.0.0:4840 opens it "
                                 "to the network")  # fmt: skip
        self.opcua_user = QLineEdit()
        self.opcua_password = QLineEdit()
        self.opcua_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.opcua_password.setPlaceholderText("unchanged")
        self.anonymous = QCheckBox("Allow anonymous clients")
        self.insecure = QCheckBox("Also offer the unencrypted policy (None)")
        self.opcua_status = _status_label()
        apply = QPushButton("Apply")
        for label, widget in (("", self.opcua_on), ("Endpoint", self.endpoint), ("User", self.opcua_user),
                              ("Password", self.opcua_password), ("", self.anonymous), ("", self.insecure),
                              ("", apply), ("", self.opcua_status)):  # fmt: skip
            form.addRow(label, widget) if label else form.addRow(widget)
        apply.clicked.connect(self.opcuaApplied)
        return box

    def _mqtt_box(self) -> QGroupBox:
        box = QGroupBox("MQTT")
        form = QFormLayout(box)
        self.mqtt_on = QCheckBox("Publish verdicts to a broker")
        self.broker = QLineEdit()
        self.broker.setPlaceholderText("mqtt://[user:password@]broker:1883 or mqtts://…")
        self.ca_file = QLineEdit()
        self.ca_file.setPlaceholderText("mqtts: the broker's CA file (default: system CAs)")
        self.station_name = QLineEdit()
        self.station_name.setPlaceholderText("default: this PC's host name")
        self.mqtt_status = _status_label()
        apply = QPushButton("Apply")
        for label, widget in (("", self.mqtt_on), ("Broker", self.broker), ("CA file", self.ca_file),
                              ("Station", self.station_name), ("", apply), ("", self.mqtt_status)):  # fmt: skip
            form.addRow(label, widget) if label else form.addRow(widget)
        apply.clicked.connect(self.mqttApplied)
        return box


def _status_label() -> QLabel:
    label = QLabel("off")
    label.setObjectName("Muted")
    label.setWordWrap(True)
    return label
