"""Switching a running station to a recipe: model, threshold and region change together, parts in flight finish
under the old recipe, the trace records the recipe per part, a failed switch changes nothing; ``run --recipe``."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from plant_helpers import wait_for

from app.cli.main import main
from app.pipeline.record import InspectionRecord
from app.recipes import CameraEntry, Recipe, RecipeError
from app.reject import RejectConfig
from app.station import AcquisitionMode
from app.station.trigger_watch import TriggerWatch
from draem_core.inspector import Inspector


class Collector:
    """An output that keeps every record (a real station output)."""

    label = "collector"

    def __init__(self) -> None:
        self.records: list[InspectionRecord] = []
        self._lock = threading.Lock()

    def submit(self, record: InspectionRecord) -> None:
        with self._lock:
            self.records.append(record)

    def close(self) -> None:
        pass

    def triggered(self) -> dict[int, InspectionRecord]:
        with self._lock:
            return {r.trigger: r for r in self.records if r.trigger > 0}


class SlowInspector(Inspector):
    """The real model, at least ``delay`` seconds per frame: a busy line PC, so that parts wait in the queue."""

    delay = 0.4

    def inspect(self, frame, roi=None):
        time.sleep(self.delay)
        return super().inspect(frame, roi)


def switch_and_wait(plant, name: str) -> tuple[object, object]:
    done = threading.Event()
    outcome: list = []
    plant.switcher.switch(name, lambda recipe, error: (outcome.append((recipe, error)), done.set()))
    assert done.wait(60), f"switch to {name} did not finish"
    return outcome[0]


def test_a_switch_changes_model_threshold_region_and_the_recipe_in_every_record(station, plant, versions) -> None:
    first, second = versions
    collector = Collector()
    station.station.add_output(collector)
    plant.recipes.save(Recipe("B", (CameraEntry(0, model_version=second, roi=(8, 8, 120, 80)),),
                              RejectConfig(tcp_enabled=False, pulse_s=0.07)))  # fmt: skip
    wait_for(lambda: len(collector.records) >= 2, what="records before the switch")
    recipe, error = switch_and_wait(plant, "B")
    assert error is None and recipe.name == "B"
    s = station.station
    assert s.recipe == "B" and s.roi == (8, 8, 120, 80) and s.threshold == pytest.approx(0.2)
    assert s.model_path == plant.registry.get(second).model_path and s.reject_config.pulse_s == 0.07
    assert plant.recipes.active_name() == "B"
    wait_for(lambda: any(r.recipe == "B" for r in collector.records), what="a record under recipe B")
    mark = len(collector.records)
    wait_for(lambda: len(collector.records) >= mark + 3, what="three more records")
    after = collector.records[mark:]
    assert all(r.recipe == "B" and r.model_version == second and r.threshold == pytest.approx(0.2)
               and r.roi == (8, 8, 120, 80) for r in after)  # fmt: skip
    before = [r for r in collector.records if r.recipe == ""]
    assert before and all(r.model_version != second for r in before)  # the fixture's model file, not v0002
    station.station.trace.flush()
    rows = sqlite3.connect(station.station.trace.path).execute(
        "SELECT DISTINCT recipe, model_version FROM inspections").fetchall()  # fmt: skip
    assert ("B", second) in rows and any(recipe == "" for recipe, _ in rows)  # the trace names the recipe per part


def test_parts_in_flight_finish_under_the_old_recipe(station, plant, versions, tiny_model: Path) -> None:
    _, second = versions
    s = station.station
    collector = Collector()
    s.add_output(collector)
    s.set_mode(AcquisitionMode.SOFTWARE)
    station.jobs.wait_idle(30)
    wait_for(lambda: s.cameras[0].source.slot.triggered, what="triggered mode")
    s.cameras[0].pipeline.set_inspector(SlowInspector.from_file(tiny_model, "cpu"))
    plant.recipes.save(Recipe("B", (CameraEntry(0, model_version=second),)))
    for i in range(4):
        s.trigger(f"old-{i + 1}")
    first_new = s.last_trigger.number + 1
    assert plant.link.state() == "Busy"  # parts wait for their verdicts
    recipe, error = switch_and_wait(plant, "B")  # the model loads in well under the 4 x 0.4 s the queue takes
    assert error is None
    for i in range(2):
        s.trigger(f"new-{i + 1}")
    wait_for(lambda: len(collector.triggered()) >= 6, what="six verdicts")
    by_trigger = collector.triggered()
    old = [by_trigger[n] for n in range(first_new - 4, first_new)]
    new = [by_trigger[n] for n in range(first_new, first_new + 2)]
    assert [r.part_id for r in old] == ["old-1", "old-2", "old-3", "old-4"]
    assert all(r.recipe == "" and r.verdict != "NOT_JUDGED" for r in old), [(r.recipe, r.reason) for r in old]
    assert all(r.recipe == "B" and r.model_version == second for r in new)
    wait_for(lambda: plant.link.state() == "Ready", what="Ready after the last verdict")


def test_a_failed_switch_keeps_the_old_recipe(station, plant, versions, tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model at all")
    plant.recipes.save(Recipe("A", (CameraEntry(0, model_version=versions[0]),)))
    assert switch_and_wait(plant, "A")[1] is None
    plant.recipes.save(Recipe("X", (CameraEntry(0, model_file=str(broken)),)))
    recipe, error = switch_and_wait(plant, "X")
    assert recipe is None and "broken.safetensors" in str(error)
    assert station.station.recipe == "A" and plant.recipes.active_name() == "A"
    assert any("broken.safetensors" in line for line in plant.errors)
    with pytest.raises(RecipeError, match="no such recipe"):
        plant.link.select_recipe("nothing-like-it")


def test_the_newest_request_wins_and_settings_files_a_source_cannot_take_are_reported(station, plant, versions,
                                                                                      tmp_path: Path) -> None:  # fmt: skip
    settings = tmp_path / "camera.json"
    settings.write_text('{"format": "draem-inspect camera settings", "version": 1, "features": []}')
    plant.recipes.save(Recipe("A", (CameraEntry(0, model_version=versions[0]),)))
    plant.recipes.save(Recipe("B", (CameraEntry(0, model_version=versions[1], camera_settings=str(settings)),)))
    outcomes: list = []
    done = threading.Event()
    plant.switcher.switch("A", lambda r, e: outcomes.append(("A", r, e)))
    plant.switcher.switch("B", lambda r, e: (outcomes.append(("B", r, e)), done.set()))
    assert done.wait(60)
    wait_for(lambda: not plant.switcher.busy, what="switches finished")
    assert station.station.recipe == "B" and plant.recipes.active_name() == "B"
    assert any("takes no camera settings file" in line for line in plant.errors)  # a folder has no camera features


def test_the_watch_follows_out_of_order_verdicts() -> None:
    class Fake:  # only last_trigger/config/cameras are read: the watch's own arithmetic is tested here
        last_trigger = None
        cameras: list = []

    watch = TriggerWatch(Fake())

    def verdict(camera: str, number: int) -> InspectionRecord:
        return InspectionRecord(0.0, 0, camera, "", "", None, None, 0.5, "OK", None, 0.0, trigger=number)

    for number in (3, 5, 4):
        watch.submit(verdict("a", number))
    assert watch.answered(5, ["a"]) and not watch.answered(6, ["a"]) and not watch.answered(1, ["b"])
    watch.submit(verdict("b", 7))
    assert watch.answered(7, ["b"]) and not watch.answered(7, ["a", "b"])


def test_run_with_a_recipe_and_with_the_active_one(frames: Path, versions, data_dir: Path, tmp_path: Path,
                                                   monkeypatch, capsys) -> None:  # fmt: skip
    monkeypatch.setenv("DRAEM_INSPECT_HOME", str(data_dir))
    assert main(["recipe", "save", "B", "--model", versions[1], "--roi", "4,4,100,60"]) == 0
    trace = tmp_path / "trace.sqlite"
    args = ["run", "--source", f"folder:{frames}", "--frames", "3", "--trace", str(trace), "--device", "cpu"]
    assert main([*args, "--recipe", "B"]) == 0
    capsys.readouterr()
    rows = sqlite3.connect(trace).execute("SELECT recipe, model_version, roi FROM inspections").fetchall()
    assert len(rows) >= 3 and all(r[0] == "B" and r[1] == versions[1] and json.loads(r[2]) == [4, 4, 100, 60]
                                  for r in rows)  # fmt: skip
    assert main(["recipe", "activate", "B"]) == 0
    trace.unlink()
    assert main(args) == 0  # no --model: the active recipe
    assert {r[0] for r in sqlite3.connect(trace).execute("SELECT recipe FROM inspections")} == {"B"}
    assert main([*args, "--recipe", "B", "--model", "x.safetensors"]) == 2
    assert "give --recipe or --model, not both" in capsys.readouterr().err
