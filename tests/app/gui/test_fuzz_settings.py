"""Fuzz suite, settings side: about 530 odd QSettings ini files (every key the window reads set to each odd value;
files odd as a whole; a folder where the file should be). Each must give settings the station can run with
(values in range, the defaults where a value is unusable) and one line naming the file when something was
unusable; a sample starts the real window, which must show that line once and never crash.

Cases are in ``bad_settings.py`` (seeded).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from bad_settings import file_cases, value_cases, write_case
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

from app.gui.inspection_controls import InspectionControls
from app.gui.settings import BACKEND_CHOICES, COLORMAPS, GuiSettings
from app.state import AppState
from app.station.modes import AcquisitionMode
from draem_core.errors import shown

pytestmark = pytest.mark.gui
VALUE_CASES = {case: (text, expect) for case, text, expect in value_cases()}
FILE_CASES = {case: (data, expect) for case, data, expect in file_cases()}
WINDOW_CASES = [*FILE_CASES, "folder", *list(VALUE_CASES)[::40]]


@pytest.fixture(scope="module")
def controls(qapp) -> InspectionControls:
    return InspectionControls()


def settings_at(tmp_path: Path, case: str) -> tuple[Path, bool | None]:
    """The settings file of a case (a folder for "folder") and whether it must be called unusable."""
    path = tmp_path / "settings.ini"
    if case == "folder":
        path.mkdir()
        return path, True
    data, expect = VALUE_CASES[case] if case in VALUE_CASES else FILE_CASES[case]
    write_case(path, data)
    return path, expect


def check_values(settings: GuiSettings, controls: InspectionControls) -> None:
    """Every value the window reads is one the station and the controls can use."""
    overlay = settings.overlay()
    assert math.isfinite(overlay.opacity) and 0.0 <= overlay.opacity <= 1.0 and overlay.colormap in COLORMAPS
    assert isinstance(overlay.heatmap, bool) and isinstance(overlay.outline, bool)
    roi = settings.roi()
    assert roi is None or (all(isinstance(v, int) for v in roi) and min(roi[:2]) >= 0 and min(roi[2:]) > 0)
    reject = settings.reject()
    assert isinstance(reject.port, int) and 1 <= reject.port <= 65535 and 1 <= reject.max_clients <= 1024
    assert math.isfinite(reject.pulse_s) and 0.001 <= reject.pulse_s <= 5.0
    assert all(isinstance(v, str) and "\0" not in v for v in (reject.line, reject.host, reject.token))
    trace = settings.trace()
    assert all(math.isfinite(v) and v >= 0 for v in (trace.keep_days, trace.max_gb))
    assert settings.acquisition_mode() in {m.value for m in AcquisitionMode} and settings.backend() in BACKEND_CHOICES
    assert isinstance(settings.roi_enabled(), bool)
    assert isinstance(settings.source_spec(), str) and (settings.model_path() is None or settings.model_path().name)
    threshold = settings.threshold_for(Path("model.safetensors"))
    assert threshold is None or 0.0 < threshold < 1.0
    assert isinstance(settings.restore_window(QMainWindow()), bool)
    controls.set_reject(reject)
    controls.set_overlay(overlay)
    shown_back = controls.reject()
    assert (shown_back.port, shown_back.token, shown_back.max_clients) == (reject.port, reject.token, reject.max_clients)


def check_problem(problem: str, path: Path, expect: bool | None, key: str | None) -> None:
    assert "\n" not in problem and len(problem) < 600, problem
    if expect is False:
        assert problem == "", problem
    if expect is True:
        assert problem.startswith(f"settings {shown(path)}:"), problem
        assert key is None or key in problem, problem


@pytest.mark.parametrize("case", [*VALUE_CASES, *FILE_CASES, "folder"])
def test_settings_file(case: str, tmp_path: Path, controls: InspectionControls) -> None:
    path, expect = settings_at(tmp_path, case)
    settings = GuiSettings(QSettings(str(path), QSettings.Format.IniFormat))
    check_values(settings, controls)
    check_problem(settings.problem(), path, expect, case.split("=")[0] if case in VALUE_CASES else None)


@pytest.mark.parametrize("case", WINDOW_CASES)
def test_window_starts_with_any_settings_file(case: str, make_window, settings_file: Path, tmp_path: Path) -> None:
    path, expect = settings_at(tmp_path, case)
    assert path == settings_file
    window = make_window(autostart=False)
    assert window.isVisible() and window.station.state != AppState.ERROR
    said = [n.message for n in window.errors.notices if n.where == "settings"]
    assert len(said) <= 1, said  # one line, however many values were unusable
    if expect is not None:
        assert len(said) == int(expect), said
    if said:
        check_problem(said[0], path, True, None)
        assert window.status.last_error.startswith("settings: settings ")
