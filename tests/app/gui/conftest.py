"""Fixtures for the window tests: a QSettings file per test, real image folders, a source whose link can be pulled,
and an engineer password (windows start in operator mode; most tests log in as the engineer)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from app.access.password import MIN_ITERATIONS, hash_password
from app.access.policy import PASSWORD_KEY, PASSWORD_SET_KEY
from app.sources.base import Frame, SourceState, SourceStats
from app.sources.factory import open_source
from app.sources.folder import FolderSource, FolderSourceConfig

ENGINEER_PASSWORD = "line-7-engineer"
WAIT_LOGIN = 20_000  # ms


def set_engineer_password(settings, password: str = ENGINEER_PASSWORD) -> None:
    """Store a password as the first switch to engineer mode does, with the fewest iterations a station accepts
    (the real 600,000 would cost every window test a noticeable fraction of a second)."""
    settings.setValue(PASSWORD_KEY, hash_password(password, iterations=MIN_ITERATIONS))
    settings.setValue(PASSWORD_SET_KEY, "true")
    settings.sync()


class Engineer:
    """The test engineer: the password, and storing it in a settings file as the first switch would."""

    password = ENGINEER_PASSWORD

    @staticmethod
    def store(settings) -> None:
        set_engineer_password(settings)


@pytest.fixture()
def engineer() -> Engineer:
    return Engineer()


class LosableFolder(FolderSource):
    """A real folder source whose connection the test pulls (``lost = True``) and restores."""

    def __init__(self, config: FolderSourceConfig) -> None:
        super().__init__(config)
        self.lost = False

    def wait_latest(self, timeout: float) -> Frame | None:
        if self.lost:
            time.sleep(timeout)
            return None
        return super().wait_latest(timeout)

    def stats(self) -> SourceStats:
        if self.lost:
            return SourceStats(state=SourceState.RECONNECTING, last_error="link down")
        return super().stats()


@pytest.fixture()
def image_folder(tmp_path: Path, good_paths: list[Path]) -> Path:
    folder = tmp_path / "line1"
    folder.mkdir()
    for p in good_paths[:3]:
        shutil.copy(p, folder / p.name)
    return folder


@pytest.fixture()
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.ini"


@pytest.fixture()
def machine_file(tmp_path: Path) -> Path:
    """Where the windows look for the machine-wide access settings (absent unless a test writes it)."""
    return tmp_path / "machine" / "access.ini"


@pytest.fixture()
def make_window(qtbot, tmp_path: Path, settings_file: Path, tiny_model: Path, machine_file: Path):
    """``make_window(source=..., model=..., engineer=True, **options)`` -> a shown MainWindow (closed at teardown).

    ``source="lossy:<folder>"`` gives a :class:`LosableFolder` (kept in ``window.test_sources``);
    other specs go through the real ``open_source``. ``engineer=True`` sets :data:`ENGINEER_PASSWORD` when the
    settings have no password yet and enters engineer mode with it, as an engineer would.
    """
    from PySide6.QtCore import QSettings

    from app.gui.main_window import MainWindow
    from app.gui.startup import LaunchOptions

    def factory(sources: list):
        def open_spec(spec: str):
            if spec.startswith("lossy:"):
                source = LosableFolder(FolderSourceConfig(path=spec[6:], fps=15.0))
            else:
                source = open_source(spec, fps=15.0) if spec.startswith("folder:") else open_source(spec)
            sources.append(source)
            return source

        return open_spec

    def make(source: str | None = None, model: Path | None = tiny_model, engineer: bool = True, **options):
        sources: list = []
        fresh = not settings_file.exists()
        settings = QSettings(str(settings_file), QSettings.Format.IniFormat)
        if engineer and settings.value(PASSWORD_KEY) is None:
            set_engineer_password(settings)
        window = MainWindow(LaunchOptions(source=source, model=model, **options), settings=settings,
                            source_factory=factory(sources), discover=None, data_dir=tmp_path / "data",
                            device="cpu", machine_settings=machine_file)  # fmt: skip
        window.test_sources = sources
        qtbot.addWidget(window)
        if fresh:  # a restart keeps the size it restored from the settings
            window.resize(1400, 900)
        window.show()
        if engineer:
            window.modes.enter_engineer(ENGINEER_PASSWORD)
            qtbot.waitUntil(lambda: not window.modes.operator, timeout=WAIT_LOGIN)
        return window

    return make
