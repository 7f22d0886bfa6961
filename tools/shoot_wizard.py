"""Screenshots of every wizard page for docs/wizard.md, from a real run on ball-screw images.

Not a test: it reads the full BSData set beside the repository (``../shared/data``). Run it under a display,
e.g.::

    Xvfb :98 -screen 0 1400x900x24 &
    DISPLAY=:98 QT_QPA_PLATFORM=xcb python tools/shoot_wizard.py docs --steps 150 \\
        --deployed runs/ball_screw/model.safetensors

It trains a tiny network for ``--steps`` steps on one CPU thread (a minute or two).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402  (torch before Qt)
from PySide6.QtWidgets import QApplication, QWizard  # noqa: E402

from app.registry import ModelRegistry  # noqa: E402
from app.retrain.plan import RetrainPlan  # noqa: E402
from app.sources.folder import FolderSource, FolderSourceConfig  # noqa: E402
from app.wizard import RetrainWizard  # noqa: E402
from tests.app.wizard.test_wizard_walk import LiveSlot  # noqa: E402

BALL_SCREW = REPO.parent / "shared" / "data" / "ball_screw_bsdata" / "ball_screw"


def wait_until(app: QApplication, condition, timeout: float = 600.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met in time")
        app.processEvents()
        time.sleep(0.02)


def settle(app: QApplication, seconds: float = 0.5) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def quick_model(folder: Path) -> Path:
    """A deployed model to compare against when none is given: tiny network, a few steps."""
    from draem_core.config import TrainConfig, preset
    from draem_core.train import TrainPlan, train

    images = tuple(sorted((BALL_SCREW / "train" / "good").glob("*.jpg"))[100:130])
    out = folder / "previous.safetensors"
    cfg = TrainConfig(steps=30, batch_size=4, checkpoint_every=0, device="cpu")
    list(
        train(
            TrainPlan(
                images[0].parent, out, preset("tiny", (96, 224)), cfg, name="ball screw (old)", images=images
            )
        )
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for wizard_*.png")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--deployed", type=Path, help="model file to show as the deployed one")
    args = parser.parse_args()
    torch.set_num_threads(1)
    app = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="wizard-shots-"))
    registry = ModelRegistry(work / "models")
    registry.activate(registry.add(args.deployed or quick_model(work)).id)
    source = FolderSource(FolderSourceConfig(str(BALL_SCREW / "test" / "good"), fps=10.0))
    source.open()
    source.start()
    live = LiveSlot(source)
    plan = RetrainPlan(preset="tiny", size=(96, 224), budget=args.steps, batch_size=4, device="cpu",
                       checkpoint_every=50)  # fmt: skip
    wizard = RetrainWizard(plan, latest=live, deploy=lambda p: None,
                           registry=registry, datasets_root=work / "datasets", threads=1)  # fmt: skip
    wizard.show()
    shot = lambda name: wizard.grab().save(str(args.out / f"wizard_{name}.png"))  # noqa: E731
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        walk(app, wizard, live, work, shot)
    finally:
        source.stop()
        source.close()
        wizard.runner.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def walk(app: QApplication, wizard: RetrainWizard, live: LiveSlot, work: Path, shot) -> None:
    collect = wizard.collect_page
    collect.name_edit.setText("ball-screw line 2")
    collect.create_btn.click()
    wait_until(app, lambda: wizard.ctx.dataset is not None and not collect._busy())
    imports = work / "imports"
    imports.mkdir()
    for p in sorted((BALL_SCREW / "train" / "good").glob("*.jpg"))[:52]:
        shutil.copy(p, imports / p.name)
    for p in sorted((BALL_SCREW / "test" / "pitting").glob("*.jpg"))[:3]:
        shutil.copy(p, imports / f"pitting_{p.name}")
    collect.import_from(imports)
    wait_until(app, lambda: not collect._busy())
    wait_until(app, lambda: live() is not None)
    collect.count_spin.setValue(3)
    collect.every_spin.setValue(0.3)
    collect.auto_btn.click()
    wait_until(app, lambda: not collect._busy())
    settle(app, 0.6)
    shot("1_collect")
    wizard.next()

    review = wizard.review_page
    wait_until(app, lambda: len(review.model._pixmaps) == len(review.model.rows))
    pitted = [p for p in wizard.plan.images if "pitting" in p.name]
    review.select(pitted)
    review.mark_selected(True)
    review.select([wizard.plan.images[5]])
    review.delete_selected()
    review.select(pitted[:1])
    review.view.scrollToBottom()
    settle(app)
    shot("2_review")
    wizard.next()

    conf = wizard.configure_page
    wait_until(app, lambda: conf.eta is not None and not conf.cells[0].pixmap().isNull())
    settle(app)
    shot("3_configure")
    wizard.next()

    train = wizard.train_page
    wait_until(app, lambda: train.progress.value() >= 0.7 * train.progress.maximum())
    settle(app, 0.3)
    shot("4_train")
    wait_until(app, train.isComplete)
    wizard.next()

    ev = wizard.evaluate_page
    wait_until(app, ev.isComplete)
    settle(app)
    shot("5_evaluate")
    wizard.next()

    dp = wizard.deploy_page
    dp.deploy_btn.click()
    wait_until(app, lambda: dp.deployed is not None and dp.active_id == dp.deployed.id)
    settle(app)
    shot("6_deploy")
    wizard.button(QWizard.WizardButton.FinishButton).click()


if __name__ == "__main__":
    sys.exit(main())
