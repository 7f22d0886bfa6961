"""A station's plant side in one object: recipes (always), and the OPC UA server and MQTT client when enabled.

The window and ``draem-inspect run`` both build a :class:`Plant` over their station; the protocols are outputs
of the station (``station.add_output``) while they run and removed when they stop. Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.plant.link import PlantLink
from app.plant.mqtt_output import MqttConfig, MqttOutput, station_name
from app.plant.opcua_server import OpcUaConfig, OpcUaServer
from app.recipe_switch import RecipeSwitcher
from app.recipes import Recipe, RecipeStore
from app.registry import ModelRegistry
from app.station.jobs import JobRunner
from app.station.station import Station
from app.station.trigger_watch import TriggerWatch

ErrorSink = Callable[[str, object], None]


class Plant:
    """Recipes, the PLC state and the protocol outputs of one station.

    Args:
        station: The station.
        data_dir: The data folder (recipes, model registry, OPC UA certificate).
        run: The station's job runner (recipe switches run there).
        name: The station's name on MQTT ("" = the host name).
        on_switched: Called with every recipe once it is in force.
        on_error: The app-level error sink.
    """

    def __init__(self, station: Station, *, data_dir: Path, run: JobRunner, name: str = "",
                 on_switched: Callable[[Recipe], None] | None = None, on_error: ErrorSink | None = None) -> None:  # fmt: skip
        self.station, self.data_dir = station, Path(data_dir)
        self._on_error = on_error
        self.watch = TriggerWatch(station)
        station.add_output(self.watch)
        self.recipes = RecipeStore(self.data_dir / "recipes")
        self.registry = ModelRegistry(self.data_dir / "models")
        self.switcher = RecipeSwitcher(station, self.recipes, self.registry, run=run, watch=self.watch,
                                       on_switched=on_switched, on_error=on_error)  # fmt: skip
        self.link = PlantLink(station, self.watch, self.switcher, station_name(name))
        self.opcua: OpcUaServer | None = None
        self.mqtt: MqttOutput | None = None

    def start_opcua(self, config: OpcUaConfig) -> OpcUaServer:
        """Start the OPC UA server (blocks until it listens: not on the GUI thread); a running one is replaced.

        Raises:
            OpcUaError: the settings are wrong or it cannot listen.
        """
        self.stop_opcua()
        server = OpcUaServer(self.link, config, data_dir=self.data_dir, on_error=self._on_error).start()
        self.opcua = server
        self.station.add_output(server)
        return server

    def stop_opcua(self) -> None:
        server, self.opcua = self.opcua, None
        if server is not None:
            self.station.remove_output(server)
            server.close()

    def start_mqtt(self, config: MqttConfig) -> MqttOutput:
        """Connect to the broker in the background; a running client is replaced.

        Raises:
            MqttError: the URL or the station name is wrong.
        """
        self.stop_mqtt()
        if config.station:
            self.link.name = station_name(config.station)
        client = MqttOutput(self.link, config, on_error=self._on_error).start()
        self.mqtt = client
        self.station.add_output(client)
        return client

    def stop_mqtt(self) -> None:
        client, self.mqtt = self.mqtt, None
        if client is not None:
            self.station.remove_output(client)
            client.close()

    def status(self) -> list[str]:
        """One line per protocol that runs."""
        return [o.status() for o in (self.opcua, self.mqtt) if o is not None]

    def close(self) -> None:
        """Stop both protocols (the station closes the watch with its other outputs)."""
        self.stop_mqtt()
        self.stop_opcua()
