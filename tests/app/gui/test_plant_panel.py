"""The window's plant side: the Plant dock (engineer mode), the recipe selector (operators only when allowed), saving
and switching recipes, the active recipe at start-up, OPC UA started from the panel, and run_task from any thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from asyncua.sync import Client
from PySide6.QtCore import QThread

from app.gui.tasks import run_task
from app.recipes import CameraEntry, Recipe, RecipeStore
from app.registry import ModelRegistry
from app.state import AppState

pytestmark = pytest.mark.gui
WAIT = 30_000


def test_the_plant_dock_and_who_may_switch_recipes(qtbot, make_window) -> None:
    window = make_window(autostart=False)
    dock = window.plant.dock
    assert dock in window.docks and window.plant.selector.isVisibleTo(window)
    window.modes.access.set_operator_actions({"start_inspection"})  # operators may not switch recipes
    window.modes.set_operator(True)
    assert not dock.isVisible() and not window.plant.selector.isVisibleTo(window)
    window.modes.set_operator(False)
    window.modes.access.set_operator_actions({"start_inspection", "select_recipe"})
    window.modes.set_operator(True)
    assert window.plant.selector.isVisibleTo(window) and not dock.isVisible()


def test_save_current_and_switch_from_the_selector(qtbot, make_window, image_folder: Path, tmp_path: Path) -> None:
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING, timeout=WAIT)
    window.controls.spin.setValue(0.4321)
    qtbot.waitUntil(lambda: window.station.threshold == pytest.approx(0.4321), timeout=WAIT)
    panel = window.plant.panel
    panel.recipe_name.setText("low")
    panel.saveRequested.emit("low")
    store = RecipeStore(tmp_path / "data" / "recipes")
    qtbot.waitUntil(lambda: "low" in store.names(), timeout=WAIT)
    saved = store.load("low")
    assert saved.cameras[0].threshold == pytest.approx(0.4321)
    assert Path(saved.cameras[0].model_file) == window.station.model_path.resolve()
    store.save(Recipe("high", (CameraEntry(0, model_file=saved.cameras[0].model_file, threshold=0.9,
                                           roi=(10, 10, 100, 80)),)))  # fmt: skip
    window.plant.show_recipes()
    selector = window.plant.selector
    selector.names.setCurrentText("high")
    selector.switch.click()
    qtbot.waitUntil(lambda: panel.active.text() == "high", timeout=WAIT)
    assert window.station.recipe == "high" and window.controls.spin.value() == pytest.approx(0.9)
    assert window.controls.roi_check.isChecked() and window.board.view.roi_enabled
    qtbot.waitUntil(lambda: window.station.latest().record is not None
                    and window.station.latest().record.recipe == "high", timeout=WAIT)  # fmt: skip
    assert store.active_name() == "high"


def test_the_active_recipe_decides_the_model_at_start_up(qtbot, make_window, image_folder: Path, tiny_model: Path,
                                                         tmp_path: Path) -> None:  # fmt: skip
    registry = ModelRegistry(tmp_path / "data" / "models")
    version = registry.add(tiny_model, threshold=0.3, device="cpu")
    store = RecipeStore(tmp_path / "data" / "recipes")
    store.save(Recipe("product-7", (CameraEntry(0, model_version=version.id),)))
    store.set_active("product-7")
    window = make_window(source=f"folder:{image_folder}", model=None)
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING and window.station.recipe == "product-7",
                    timeout=WAIT)  # fmt: skip
    assert window.station.model_path == version.model_path and window.station.threshold == pytest.approx(0.3)
    qtbot.waitUntil(lambda: window.plant.panel.active.text() == "product-7", timeout=WAIT)  # the window follows


def test_opcua_from_the_panel_and_a_recipe_switch_from_the_plc(qtbot, make_window, image_folder: Path,
                                                               tiny_model: Path, tmp_path: Path) -> None:  # fmt: skip
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    window = make_window(source=f"folder:{image_folder}")
    qtbot.waitUntil(lambda: window.station.state == AppState.INSPECTING, timeout=WAIT)
    RecipeStore(tmp_path / "data" / "recipes").save(Recipe("plc", (CameraEntry(0, model_file=str(tiny_model),
                                                                               threshold=0.7),)))  # fmt: skip
    panel = window.plant.panel
    panel.opcua_on.setChecked(True)
    panel.endpoint.setText(f"opc.tcp://127.0.0.1:{port}")
    panel.anonymous.setChecked(True)
    panel.insecure.setChecked(True)
    panel.opcuaApplied.emit()
    qtbot.waitUntil(lambda: f":{port}" in panel.opcua_status.text(), timeout=60_000)
    result: dict = {}

    def plc() -> None:  # a PLC on another thread: reads the state, switches the recipe
        client = Client(f"opc.tcp://127.0.0.1:{port}", timeout=20)
        try:
            client.connect()
            ns = client.get_namespace_index("urn:draem-inspect")
            result["state"] = client.get_node(f"ns={ns};s=Station.State").read_value()
            client.nodes.objects.get_child(f"{ns}:Station").call_method(f"{ns}:SelectRecipe", "plc")
        finally:
            client.disconnect()

    thread = threading.Thread(target=plc)
    thread.start()
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    assert result["state"] == "Ready"
    qtbot.waitUntil(lambda: panel.active.text() == "plc", timeout=WAIT)  # came back to the window
    assert window.controls.spin.value() == pytest.approx(0.7)
    assert window.plant.settings.get("opcua_enabled", False)


def test_run_task_from_another_thread_reports_on_the_gui_thread(qtbot) -> None:
    seen: list = []
    gui = QThread.currentThread()

    def call() -> None:
        run_task(lambda: 41 + 1, lambda value: seen.append((value, QThread.currentThread() is gui)))

    worker = threading.Thread(target=call)
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT)
    assert seen == [(42, True)]
