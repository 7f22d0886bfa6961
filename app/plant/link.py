"""What the plant sees of a station, whatever the protocol: the PLC state, the commands, the result payloads.

The state follows the handshake PLCs expect from a vision system: ``Ready`` only while the station can judge
the next part; ``Busy`` while a trigger waits for its verdict, a recipe is switching or a source is opening;
``Stopped`` while inspection is stopped or no source is open; ``Error`` while a camera is lost or failed or a
model is missing. A station that cannot judge never says Ready. Qt-free; the OPC UA server and the MQTT client
both use this one rule.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from app.pipeline.record import InspectionRecord, PartRecord, model_identity
from app.recipe_switch import RecipeSwitcher
from app.recipes import Recipe
from app.state import AppState
from app.station.station import Station, StationError
from app.station.trigger_watch import TriggerWatch
from draem_core.errors import DraemError

READY, BUSY, ERROR, STOPPED = "Ready", "Busy", "Error", "Stopped"  # the PLC states
STATES = (READY, BUSY, ERROR, STOPPED)


class PlantError(DraemError):
    """A command from the plant cannot be carried out now (names the command and the reason)."""

    def __init__(self, command: str, reason: str) -> None:
        self.command, self.reason = command, reason
        super().__init__(f"{command}: {reason}")


class PlantLink:
    """A station as the plant protocols see it.

    Args:
        station: The station.
        watch: Its trigger watch (an output of the station): Busy while a trigger waits for its verdict.
        switcher: Switches recipes; None: the station has no recipes (SelectRecipe is refused).
        name: The station's name in topics and payloads.
    """

    def __init__(self, station: Station, watch: TriggerWatch, switcher: RecipeSwitcher | None = None,
                 name: str = "") -> None:  # fmt: skip
        self.station, self.watch, self.switcher, self.name = station, watch, switcher, name

    # --- reading -----------------------------------------------------------------------------------

    def state(self) -> str:
        """Ready, Busy, Error or Stopped (see the module)."""
        station = self.station
        app = station.state
        if app in (AppState.ERROR, AppState.RECONNECTING):
            return ERROR
        if app == AppState.IDLE:
            return STOPPED
        if app == AppState.CONNECTING:
            return BUSY
        if station.inspector is None or station.problem or any(c.pipeline.inspector is None for c in station.cameras):
            return ERROR
        if app == AppState.LIVE:
            return STOPPED
        if (self.switcher is not None and self.switcher.busy) or self.watch.in_flight():
            return BUSY
        return READY

    def model_version(self) -> str:
        """The version of the model in use (the first camera's; "" without a model)."""
        inspector = self.station.inspector
        return model_identity(inspector.meta if inspector is not None else None)[1]

    def recipe(self) -> str:
        """The recipe in force ("" when none)."""
        return self.station.recipe

    def cameras(self) -> list[str]:
        """The connected cameras' ids, as records name them."""
        return [c.pipeline.camera_id for c in self.station.cameras]

    def is_part(self, record: InspectionRecord) -> bool:
        """Whether a camera's record is also its part's verdict: with one camera, and in free run (each camera is
        judged on its own); a triggered part of several cameras comes as a :class:`PartRecord` instead."""
        return record.trigger < 1 or len(self.station.cameras) <= 1

    # --- commands ----------------------------------------------------------------------------------

    def trigger(self, part_id: str) -> int:
        """Judge the part in front of the cameras; its verdict comes back with ``part_id``. Returns its number."""
        try:
            return self.station.trigger(part_id).number
        except StationError as exc:
            raise PlantError("Trigger", str(exc).removeprefix("trigger: ")) from exc

    def start(self) -> None:
        """Start inspecting (refused while no source is open)."""
        if self.station.state not in (AppState.LIVE, AppState.INSPECTING):
            raise PlantError("Start", f"the station is {self.station.state.value}; open a source first")
        if self.station.inspector is None:
            raise PlantError("Start", "no model is loaded")
        self.station.set_inspecting(True)

    def stop(self) -> None:
        """Stop inspecting: frames are shown, not judged; triggers are answered NOT_JUDGED."""
        self.station.set_inspecting(False)

    def select_recipe(self, name: str, on_done=None) -> Recipe:
        """Check recipe ``name`` now (one clear error) and switch to it in the background; the state is Busy
        until it is in force. ``on_done(recipe or None, error or None)`` follows the switch (see
        :meth:`RecipeSwitcher.switch`).

        Raises:
            PlantError: the station has no recipes.
            RecipeError, RegistryError: the recipe cannot be switched to.
        """
        if self.switcher is None:
            raise PlantError("SelectRecipe", "this station has no recipe store")
        recipe = self.switcher.check(name)
        self.switcher.switch(name, on_done)
        return recipe


# --- payloads ------------------------------------------------------------------------------------------


def iso_time(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds (``2024-05-01T08:00:00.123Z``)."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def result_payload(record: InspectionRecord, station: str) -> dict:
    """One camera's verdict as the plant receives it (an MQTT message, the fields of an OPC UA event)."""
    return {"station": station, "camera": record.camera, "verdict": record.verdict, "score": _finite(record.score),
            "normalized": _finite(record.normalized), "threshold": _finite(record.threshold),
            "part_id": record.part_id, "trigger": record.trigger, "recipe": record.recipe, "model": record.model_name,
            "model_version": record.model_version, "reason": record.reason, "time": iso_time(record.time),
            "timestamp": record.time, "frame_id": record.frame_id, "latency_ms": _finite(record.latency_ms)}  # fmt: skip


def part_payload(part: PartRecord, station: str) -> dict:
    """One part's verdict across its cameras."""
    cameras = [{"camera": r.camera, "verdict": r.verdict, "score": _finite(r.score),
                "normalized": _finite(r.normalized), "reason": r.reason} for r in part.cameras]  # fmt: skip
    version = part.cameras[0].model_version if part.cameras else ""
    return {"station": station, "verdict": part.verdict, "part_id": part.part_id, "trigger": part.trigger,
            "recipe": part.recipe, "model_version": version, "time": iso_time(part.time), "timestamp": part.time,
            "cameras": cameras}  # fmt: skip


def part_score(part: PartRecord) -> float | None:
    """The part's score: the highest normalized score of its cameras (None when none was judged)."""
    scores = [r.normalized for r in part.cameras if r.normalized is not None and math.isfinite(r.normalized)]
    return max(scores) if scores else None


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
