"""Opening the retrain wizard (another package, imported on first use) with the live window's callbacks."""

from __future__ import annotations

from pathlib import Path


def open_wizard(window) -> object | None:
    """Create and show ``app.wizard.RetrainWizard``; a clear message when it cannot be opened.

    The wizard gets non-blocking callbacks only: the newest frame with its verdict (one publication), the
    camera settings the window already read, and ``deploy`` which swaps a model in between frames (keeping
    the previous one when the new file is bad; refused in operator mode). Engineers only; a wizard hidden by
    the switch to operator mode (its training still running) is shown again. With several cameras each acts on
    the camera chosen in the wizard (``wizard.ctx.camera``): its frames are collected, its model compared and
    replaced.
    """
    if not window.modes.allows("retrain"):
        window.errors("retrain", "the retrain wizard is for engineers: switch to engineer mode first")
        return None
    existing = getattr(window, "retrain_wizard", None)
    if existing is not None and (existing.isVisible() or existing.suspended):
        existing.resume_for_engineer()
        return existing
    try:
        from app.registry import ModelRegistry
        from app.retrain.plan import RetrainPlan
        from app.wizard import RetrainWizard
    except ImportError as exc:
        window.errors("retrain", f"the retrain wizard is not available in this build ({exc})")
        return None

    def chosen() -> int:
        return wizard.ctx.camera  # read when called, once the wizard exists

    def deploy(model_path: Path) -> None:
        if window.modes.operator:
            window.errors("retrain", f"{Path(model_path).name} not deployed: the window is in operator mode")
            return
        window.load_model(Path(model_path), camera=chosen())

    names = [c.pipeline.camera_id for c in window.station.cameras]
    try:
        wizard = RetrainWizard(
            RetrainPlan(),
            latest=lambda: window.latest(chosen()),
            deploy=deploy,
            registry=ModelRegistry(window.data_dir / "models"),
            parent=window,
            camera_settings=lambda: window.camera_settings(chosen()),
            datasets_root=window.data_dir / "datasets",
            current_model=lambda: window.station.model_of(chosen()),
            cameras=names if len(names) > 1 else (),
        )
    except Exception as exc:  # noqa: BLE001 - a wizard that cannot start must not take the station down
        window.errors("retrain", exc)
        return None
    window.retrain_wizard = wizard  # keep a reference while it is open
    wizard.show()
    return wizard


def close_wizard(window) -> None:
    """The switch to operator mode: close the wizard (its training, if any, keeps running)."""
    wizard = getattr(window, "retrain_wizard", None)
    if wizard is not None and wizard.isVisible():
        wizard.close_for_operator()
