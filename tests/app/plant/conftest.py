"""Fixtures for the plant tests: a real station on a folder of frames, a model registry with two versions, and a
real mosquitto broker on a free loopback port (installed by .ci/run; a missing broker fails, it never skips)."""

from __future__ import annotations

from pathlib import Path

import pytest
from plant_helpers import Broker, broker_conf, free_port

from app.plant.plant import Plant
from app.registry import ModelRegistry
from app.station.headless import Headless, open_station


@pytest.fixture()
def frames(images: Path) -> Path:
    """Four random frames in a folder (``images`` of tests/app/conftest.py)."""
    return images


@pytest.fixture()
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture()
def versions(data_dir: Path, tiny_model: Path) -> tuple[str, str]:
    """Two registry versions of the tiny model: v0001 calibrated, v0002 with another threshold."""
    registry = ModelRegistry(data_dir / "models")
    first = registry.add(tiny_model, device="cpu")
    second = registry.add(tiny_model, threshold=0.2, note="second product", device="cpu")
    registry.activate(first.id)
    return first.id, second.id


@pytest.fixture()
def station(frames: Path, tiny_model: Path, data_dir: Path):
    """A running headless station (folder source, tiny model, CPU), closed at teardown."""
    headless = open_station([f"folder:{frames}"], tiny_model, data_dir, device="cpu")
    yield headless
    headless.close()


@pytest.fixture()
def plant(station: Headless, data_dir: Path):
    """The plant side of :func:`station` (recipes; protocols are started by the tests)."""
    errors: list[str] = []
    built = Plant(station.station, data_dir=data_dir, run=station.jobs, name="line1-test",
                  on_error=lambda where, error: errors.append(f"{where}: {error}"))  # fmt: skip
    built.errors = errors  # type: ignore[attr-defined]
    yield built
    built.close()


@pytest.fixture()
def broker(tmp_path: Path):
    port = free_port()
    running = Broker(port, broker_conf(tmp_path / "mosquitto.conf", port)).start()
    yield running
    running.stop()
