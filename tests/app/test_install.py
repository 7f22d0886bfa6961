"""Installed like real software: one version, resources found in every layout, a data folder for a shared PC,
and a wheel that carries everything the app needs."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app import paths
from app.cli.main import main
from app.paths import HOME_ENV, data_home
from draem_core.resources import MARKER, resources_dir
from draem_core.version import __version__

REPO = Path(__file__).resolve().parents[2]


def test_one_version_source() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "draem_core/version.py"
    assert importlib.metadata.version("draem-inspect") == __version__


def test_version_option(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"draem-inspect {__version__}"


def make_resources(folder: Path) -> Path:
    (folder / MARKER).parent.mkdir(parents=True)
    (folder / MARKER).write_bytes(b"model")
    return folder


@pytest.mark.parametrize("layout", ["wheel", "checkout"])
def test_resources_are_found_inside_the_package_then_beside_it(tmp_path: Path, layout: str) -> None:
    package = tmp_path / "site" / "draem_core"
    package.mkdir(parents=True)
    expected = make_resources(package / "resources" if layout == "wheel" else tmp_path / "site" / "resources")
    assert resources_dir(package) == expected


def test_the_real_resources_hold_the_demo_model_and_textures() -> None:
    from draem_core.textures import DEFAULT_TEXTURE_DIR

    assert paths.bundled_model().is_file() and paths.resources_dir() == resources_dir()
    assert DEFAULT_TEXTURE_DIR == resources_dir() / "textures" and any(DEFAULT_TEXTURE_DIR.glob("*.png"))


def test_data_folder_order(tmp_path: Path, monkeypatch) -> None:
    machine = tmp_path / "machine"
    monkeypatch.setattr(paths, "machine_data_home", lambda: machine)
    monkeypatch.delenv(HOME_ENV, raising=False)
    assert data_home() == paths.user_data_home()  # no machine-wide folder yet
    machine.mkdir()
    assert data_home() == machine  # IT created it: every account on the line PC shares it
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"


@pytest.mark.parametrize("before_command", [True, False])
def test_data_dir_option_moves_everything(tmp_path: Path, monkeypatch, capsys, before_command: bool) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "not-this-one"))  # restored after the test
    target = tmp_path / "line-pc"
    option = ["--data-dir", str(target)]
    argv = [*option, "registry", "list"] if before_command else ["registry", "list", *option]
    assert main(argv) == 0
    assert data_home() == target.resolve()
    from app.registry import ModelRegistry

    assert ModelRegistry().root == target.resolve() / "models"


def test_unknown_log_level_is_refused_by_the_parser(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--log-level", "LOUD", "registry", "list"])
    assert "--log-level" in capsys.readouterr().err


@pytest.mark.slow
def test_the_wheel_carries_resources_and_the_version(tmp_path: Path) -> None:
    """Built the way .ci/run builds it (which then installs it in a fresh venv and runs its self-test)."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = tmp_path.glob("draem_inspect-*.whl")
    assert wheel.name.startswith(f"draem_inspect-{__version__}-")
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in (REPO / "resources").rglob("*"):
        if source.is_file():
            assert f"draem_core/resources/{source.relative_to(REPO / 'resources').as_posix()}" in names
    assert {"draem_inspect/app/cli/main.py", "draem_core/resources.py", "draem_inspect/__init__.py"} <= names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "resources/", "app/"))]  # no top-level app
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "draem-inspect = draem_inspect:main" in zipfile.ZipFile(wheel).read(entry).decode()
    check_beside_another_app_package(wheel, tmp_path)


def check_beside_another_app_package(wheel: Path, tmp_path: Path) -> None:
    """Our wheel unpacked into a site folder that also holds another distribution's top-level ``app``: the
    command runs ours, and ``import app`` elsewhere still gives theirs."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    other = site / "app"
    other.mkdir()
    (other / "__init__.py").write_text("WHO = 'another distribution'\n")
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONNOUSERSITE": "1"}
    run = lambda code: subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,  # noqa: E731
                                      text=True, timeout=120)  # fmt: skip
    ours = run("import app  # theirs, imported before the command starts\n"
               "from draem_inspect import main\n"
               "try:\n    main(['--version'])\nexcept SystemExit as done:\n    print('exit', done.code)\n"
               "import app\nprint(app.__file__)")  # fmt: skip
    assert ours.returncode == 0, ours.stderr
    assert f"draem-inspect {__version__}" in ours.stdout and "exit 0" in ours.stdout
    assert str(site / "draem_inspect" / "app") in ours.stdout  # the command ran our app package
    theirs = run("import app; print(app.WHO)")
    assert theirs.returncode == 0 and theirs.stdout.strip() == "another distribution", theirs.stderr


def spec_excludes() -> list[str]:
    """The ``excludes`` list of app.spec (read, not run: the spec needs PyInstaller's build namespace)."""
    import ast

    tree = ast.parse((REPO / "app.spec").read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "excludes"]
    return ast.literal_eval(node.value)


WORKLOAD = """
import sys
from pathlib import Path
import torch
import app.cli.main, app.gui.main_window, app.wizard.wizard, app.diagnostics
from draem_core.config import TrainConfig, preset
from draem_core.inspector import Inspector
from draem_core.imageio import read_image
from draem_core.train import TrainPlan, train
images = tuple(Path(p) for p in sys.argv[2:])
out = Path(sys.argv[1]) / "m.safetensors"
plan = TrainPlan(images[0].parent, out, preset("micro", (64, 96)),
                 TrainConfig(steps=2, batch_size=2, checkpoint_every=1, min_holdout=2, seed=0), images=images)
assert list(train(plan))[-1].kind == "done"
Inspector.from_file(out, "cpu").inspect(read_image(images[0]))
print("\\n".join(sys.modules))
"""


@pytest.mark.slow
def test_modules_left_out_of_the_frozen_app_are_never_loaded(tmp_path: Path, good_paths: list[Path]) -> None:
    """Training (which loads torch._dynamo through the optimiser), inference and the GUI's modules: none of them
    may need a package app.spec leaves out, or the frozen app would fail where the source install works."""
    done = subprocess.run([sys.executable, "-c", WORKLOAD, str(tmp_path), *map(str, good_paths[:6])],
                          check=True, capture_output=True, text=True)  # fmt: skip
    loaded = set(done.stdout.split())
    assert "torch._dynamo" in loaded  # the workload did reach torch's lazily imported parts
    for name in spec_excludes():
        assert not [m for m in loaded if m == name or m.startswith(name + ".")], f"{name} is loaded"
