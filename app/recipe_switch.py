"""Product changeover: switching a running station to a recipe, from the window, the command line, OPC UA or MQTT.

A switch never stops the line for longer than it must: the recipe's models are loaded while the old recipe
keeps inspecting; then the triggers issued before the switch are left to finish under the old recipe (parts in
flight), the cameras' settings files are applied, and each camera's model, threshold, region and recipe name go
to its pipeline in one request (:meth:`app.station.Station.apply_recipe`). Every record names the recipe that
judged it. A switch that fails changes nothing; the newest request wins when several overlap. Qt-free.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from app.recipes import Recipe, RecipeError, RecipeStore, model_path
from app.registry import ModelRegistry
from app.station.jobs import JobRunner
from app.station.station import CameraRecipe, Station
from app.station.trigger_watch import TriggerWatch
from draem_core.inspector import Inspector

DRAIN_LIMIT_S = 120.0  # the longest wait for parts in flight (the watch gives up earlier when verdicts stall)


class RecipeSwitcher:
    """Switches ``station`` to stored recipes.

    Args:
        station: The station to switch.
        store: Where the recipes are.
        registry: The model registry the recipes' versions are in.
        run: Runs the switch off the caller's thread (the station's job runner).
        watch: The station's trigger watch (added as an output), to let parts in flight finish.
        on_switched: Called with the :class:`Recipe` once it is in force.
        on_error: The app-level error sink ``(where, exception)``.
    """

    def __init__(self, station: Station, store: RecipeStore, registry: ModelRegistry, *, run: JobRunner,
                 watch: TriggerWatch, on_switched: Callable[[Recipe], None] | None = None,
                 on_error: Callable[[str, object], None] | None = None) -> None:  # fmt: skip
        self.station, self.store, self.registry = station, store, registry
        self._run, self._watch = run, watch
        self._on_switched, self._on_error = on_switched, on_error
        self._serial = threading.Lock()  # one switch at a time
        self._lock = threading.Lock()
        self._token = 0  # the newest request; an older one still loading gives way
        self._pending = 0  # requests not finished yet

    @property
    def busy(self) -> bool:
        """A switch is being prepared or applied (a PLC sees the station Busy)."""
        return self._pending > 0

    def check(self, name: str) -> Recipe:
        """The recipe ``name`` when it can be switched to now (the file, its models, its settings files exist).

        Raises:
            RecipeError: no such recipe, an invalid file, or a missing model or settings file.
            RegistryError: a model version is not in the registry.
        """
        recipe = self.store.load(name)
        for index in range(max(1, len(self.station.cameras))):
            entry = recipe.entry_for(index)
            model_path(entry, self.registry)
            if entry.camera_settings and not Path(entry.camera_settings).is_file():
                raise RecipeError(entry.camera_settings, f"camera settings file of recipe {name} does not exist")
        return recipe

    def switch(self, name: str, on_done: Callable[[Recipe | None, BaseException | None], None] | None = None) -> None:
        """Switch to recipe ``name`` off the caller's thread; ``on_done(recipe, None)`` once it is in force,
        ``on_done(None, error)`` when it failed (the old recipe stays), ``(None, None)`` when a newer request
        superseded it."""
        with self._lock:
            self._token += 1
            token = self._token
            self._pending += 1

        def finished(result: object, error: BaseException | None = None) -> None:
            with self._lock:
                self._pending -= 1
            if error is not None:
                self._report(error)
            elif isinstance(result, Recipe) and self._on_switched is not None:
                self._on_switched(result)
            if on_done is not None:
                on_done(result if isinstance(result, Recipe) else None, error)

        self._run(lambda: self._switch(name, token), finished, lambda exc: finished(None, exc))

    def _switch(self, name: str, token: int) -> Recipe | None:
        with self._serial:
            if token != self._token:
                return None
            recipe = self.check(name)
            setups = self._load(recipe)
            if token != self._token:
                return None
            station = self._watch_and_settings(recipe)
            station.apply_recipe(recipe.name, setups)
            if recipe.reject is not None and recipe.reject != station.reject_config:
                station.set_reject_config(recipe.reject)
            self.store.set_active(recipe.name)
            return recipe

    def _load(self, recipe: Recipe) -> dict[int, CameraRecipe]:
        """Every camera's model, loaded (a model instance per camera: each has its own worker)."""
        setups = {}
        for index in range(max(1, len(self.station.cameras))):
            entry = recipe.entry_for(index)
            path = model_path(entry, self.registry)
            inspector = Inspector.from_file(path, self.station.config.device)
            setups[index] = CameraRecipe(path, inspector, entry.threshold, entry.roi)
        return setups

    def _watch_and_settings(self, recipe: Recipe) -> Station:
        """Let parts in flight finish, then apply the cameras' settings files (refused features are reported)."""
        station = self.station
        if not self._watch.drain(DRAIN_LIMIT_S):
            self._report(RecipeError(recipe.name, "parts still in flight after the wait; switching anyway"))
        for camera in list(station.cameras):
            entry = recipe.entry_for(camera.index)
            if entry.camera_settings:
                self._apply_settings(camera, entry.camera_settings)
        return station

    def _apply_settings(self, camera, path: str) -> None:
        load = getattr(camera.source, "load_settings", None)
        if not callable(load):
            self._report(RecipeError(path, f"{camera.name} takes no camera settings file; it was not applied"))
            return
        refused = load(path)
        for feature, reason in refused or ():
            self._report(RecipeError(path, f"{camera.name} refused {feature}: {reason}"))

    def _report(self, error: object) -> None:
        if self._on_error is not None:
            self._on_error("recipe", error)
