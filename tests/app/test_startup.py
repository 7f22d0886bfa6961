"""Which model the window opens at start: the registry's active version decides; a registry that cannot say
which version is active is reported, never replaced silently by another model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.gui.startup import LaunchOptions, model_choice
from app.registry import ACTIVE_FILE, ModelRegistry


@pytest.fixture
def registry(tmp_path: Path, tiny_model: Path) -> ModelRegistry:
    reg = ModelRegistry(tmp_path / "models")
    reg.add(tiny_model, device="cpu")
    reg.add(tiny_model, device="cpu")
    return reg


@pytest.fixture
def last_used(tmp_path: Path, tiny_model: Path) -> Path:
    return Path(shutil.copy(tiny_model, tmp_path / "last.safetensors"))


def test_activate_decides_what_opens_next(registry: ModelRegistry, last_used: Path) -> None:
    registry.activate("v0002")
    assert model_choice(LaunchOptions(), last_used, registry.root).path == registry.get("v0002").model_path
    registry.activate("v0001")  # a rollback from the command line while the window was closed
    choice = model_choice(LaunchOptions(), registry.get("v0002").model_path, registry.root)
    assert choice.path == registry.get("v0001").model_path and choice.problem == ""  # before: the last used won


def test_without_an_active_version_the_last_used_then_the_bundled_model(registry: ModelRegistry, last_used: Path,
                                                                        monkeypatch) -> None:  # fmt: skip
    assert model_choice(LaunchOptions(), last_used, registry.root).path == last_used
    bundled = last_used.with_name("demo.safetensors")
    shutil.copy(last_used, bundled)
    monkeypatch.setattr("app.gui.startup.bundled_model", lambda: bundled)
    assert model_choice(LaunchOptions(), None, registry.root / "absent").path == bundled


@pytest.mark.parametrize("pointer", ["{not json", '{"active": "../etc"}', '{"previous": "v0001"}', '{"active": "v0009"}'])
def test_a_corrupt_active_pointer_is_reported_and_no_model_opens(registry: ModelRegistry, last_used: Path,
                                                                 pointer: str) -> None:  # fmt: skip
    registry.activate("v0001")
    (registry.root / ACTIVE_FILE).write_text(pointer)
    choice = model_choice(LaunchOptions(), last_used, registry.root)
    assert choice.path is None  # before: the last-used or the bundled demo model, silently
    assert str(registry.root) in choice.problem and "no model was loaded" in choice.problem
    assert "\n" not in choice.problem


def test_a_missing_model_file_of_the_active_version_is_reported(registry: ModelRegistry, last_used: Path) -> None:
    record = registry.activate("v0002")
    record.model_path.unlink()
    choice = model_choice(LaunchOptions(), last_used, registry.root)
    assert choice.path is None and "model file of the active version v0002 is missing" in choice.problem


def test_a_model_asked_for_wins_even_over_a_broken_registry(registry: ModelRegistry, tmp_path: Path) -> None:
    (registry.root / ACTIVE_FILE).write_text("{not json")
    asked = tmp_path / "asked.safetensors"
    assert model_choice(LaunchOptions(model=asked), None, registry.root).path == asked
