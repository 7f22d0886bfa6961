"""The plant options of ``draem-inspect run``: OPC UA server, MQTT broker, station name and recipe."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

OPCUA_PASSWORD_ENV = "DRAEM_INSPECT_OPCUA_PASSWORD"  # the password of --opcua-user (never on the command line)
SWITCH_TIMEOUT_S = 120.0  # longest wait for the start recipe's models to load


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the plant options to ``run``."""
    g = p.add_argument_group("plant interfaces (see docs/plant.md)")
    g.add_argument("--opcua", metavar="opc.tcp://HOST:PORT",
                   help="serve the station over OPC UA on this endpoint (HOST 127.0.0.1: this PC only; 0.0.0.0: "
                   "every interface)")  # fmt: skip
    g.add_argument("--opcua-user", metavar="NAME",
                   help=f"OPC UA user allowed to log in; the password is read from ${OPCUA_PASSWORD_ENV}")
    g.add_argument("--opcua-anonymous", action="store_true", help="also let OPC UA clients in without a user")
    g.add_argument("--opcua-insecure", action="store_true",
                   help="also offer the unsigned, unencrypted OPC UA policy (None); Basic256Sha256 is always offered")
    g.add_argument("--mqtt", metavar="URL", help="publish verdicts to this broker: mqtt://[user:pass@]HOST[:PORT] "
                   "or mqtts://… (TLS)")  # fmt: skip
    g.add_argument("--mqtt-ca", type=Path, metavar="FILE", help="mqtts: the broker's CA certificate (default: the "
                   "system's trusted CAs)")  # fmt: skip
    g.add_argument("--station", default="", metavar="NAME",
                   help="the station's name in MQTT topics (default: the host name)")
    g.add_argument("--recipe", metavar="NAME", help="inspect under this recipe (default: the active recipe when no "
                   "--model is given; see 'draem-inspect recipe')")  # fmt: skip


def start_recipe(args: argparse.Namespace, data_dir: Path) -> str | None:
    """The recipe to run under: ``--recipe``, else the active one when no ``--model`` was given.

    Raises:
        RecipeError: both ``--recipe`` and ``--model``.
    """
    from app.recipes import RecipeError, RecipeStore

    if args.recipe and args.model:
        raise RecipeError(args.recipe, "give --recipe or --model, not both (the recipe names its models)")
    if args.recipe:
        return args.recipe
    return None if args.model else RecipeStore(data_dir / "recipes").active_name()


def attach(headless, args: argparse.Namespace, data_dir: Path, recipe: str | None, log) -> object:
    """Build the station's plant side, switch to ``recipe`` (waiting for it), start OPC UA and MQTT as asked.

    Raises:
        DraemError: a setting is wrong, the recipe cannot be switched to, or the server cannot listen.
    """
    from app.plant.plant import Plant

    plant = Plant(headless.station, data_dir=data_dir, run=headless.jobs, name=args.station,
                  on_error=lambda where, error: log(f"{where}: {error}"))  # fmt: skip
    if recipe:
        _switch(plant, recipe)
    if args.opcua:
        plant.start_opcua(opcua_config(args))
    if args.mqtt:
        from app.plant.mqtt_output import MqttConfig

        plant.start_mqtt(MqttConfig(args.mqtt, station=args.station, ca_file=args.mqtt_ca))
    for line in plant.status():
        log(line)
    return plant


def opcua_config(args: argparse.Namespace):
    """The server's settings from the options (the password from the environment)."""
    from app.plant.opcua_security import Login, hash_password
    from app.plant.opcua_server import OpcUaConfig, OpcUaError, parse_endpoint

    parse_endpoint(args.opcua)
    logins = ()
    if args.opcua_user:
        password = os.environ.get(OPCUA_PASSWORD_ENV, "")
        if not password:
            raise OpcUaError(args.opcua, f"--opcua-user {args.opcua_user} needs its password in ${OPCUA_PASSWORD_ENV}")
        logins = (Login(args.opcua_user, hash_password(password)),)
    return OpcUaConfig(endpoint=args.opcua, logins=logins, anonymous=args.opcua_anonymous,
                       insecure=args.opcua_insecure)  # fmt: skip


def _switch(plant, name: str) -> None:
    from app.recipes import RecipeError

    plant.switcher.check(name)
    done = threading.Event()
    outcome: list = []

    def finished(recipe, error) -> None:
        outcome.append(error)
        done.set()

    plant.switcher.switch(name, finished)
    if not done.wait(SWITCH_TIMEOUT_S):
        raise RecipeError(name, f"not in force within {SWITCH_TIMEOUT_S:g} s")
    if outcome[0] is not None:
        raise outcome[0]
