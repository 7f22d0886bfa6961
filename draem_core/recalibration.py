"""Re-calibrating a trained model's threshold on more good images, without training again.

Training calibrates on its held-out share (often 20-50 images), where the threshold needs a tail margin that is
wide. With a few hundred fresh good images (not the training images) the false-reject quantile is measured
directly and the margin shrinks to nothing (see :mod:`draem_core.calibration`). The weights are written back exactly as read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from draem_core.calibration import Calibration, calibrate
from draem_core.dataset import TestItem, good_images
from draem_core.device import resolve_device
from draem_core.errors import DatasetError
from draem_core.evaluate import score_items
from draem_core.inspector import Inspector
from draem_core.modelfile import model_from_contents, now_iso, read_file, rewrite_metadata
from draem_core.training_data import fingerprint
from draem_core.version import MODEL_FORMAT


def recalibrate(
    model_path: str | Path, good: str | Path, out: str | Path, target_frr: float = 0.005, device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Calibration, Calibration | None, list[tuple[str, str]]]:  # fmt: skip
    """Score the good images in ``good`` (a folder, or an MVTec category's train/good) with the model and write
    it to ``out`` (atomically; may be ``model_path`` itself) with a threshold calibrated on them.

    Returns:
        ``(new, previous, skipped)``: the new calibration, the one the file had, unreadable images.

    Raises:
        DatasetError: the folder is missing or empty, or none of its images can be scored.
        ModelFileError: the model file is missing or broken.
    """
    paths, folder_skips = good_images(good)
    dev = resolve_device(device)
    tensors, doc = read_file(model_path, MODEL_FORMAT)
    model, meta = model_from_contents(model_path, tensors, doc, dev)
    inspector = Inspector(model, meta, dev)
    scored, skipped = score_items(inspector, [TestItem(p, 0, "good", None) for p in paths], progress=progress)
    skipped = folder_skips + skipped
    kept = [s.item.path for s in scored]
    scores = np.asarray([s.score for s in scored], np.float64)
    if not kept:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3])
        raise DatasetError(good, f"none of the {len(paths)} images could be scored ({reasons})")
    new = calibrate(scores, target_frr=target_frr)
    previous = inspector.calibration
    record = {"on": str(good), "n_good": len(kept), "skipped": skipped, "time": now_iso(),
              "images_fingerprint": fingerprint(kept),
              "previous_threshold": previous.threshold if previous else None}  # fmt: skip
    training = {**meta.training, "recalibrated": record}
    rewrite_metadata(out, tensors, replace(meta, calibration=new.to_dict(), training=training))
    return new, previous, skipped
