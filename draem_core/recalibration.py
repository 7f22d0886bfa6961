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
import torch

from draem_core.calibration import Calibration
from draem_core.config import SynthConfig
from draem_core.dataset import TestItem, good_images
from draem_core.device import resolve_device
from draem_core.errors import DatasetError
from draem_core.evaluate import score_items
from draem_core.imageio import read_image
from draem_core.inspector import Inspector
from draem_core.modelfile import model_from_contents, now_iso, read_file, rewrite_metadata
from draem_core.processing import frames_to_uint8, resize_to_model
from draem_core.threshold import FRR_TARGET, TradeOff, calibrate_tradeoff
from draem_core.training_data import fingerprint
from draem_core.validation import validation_anomalies, validation_textures
from draem_core.version import MODEL_FORMAT

MAX_SYNTH_SOURCES = 50  # good images that validation anomalies are made from (validation.validation_anomalies)


def recalibrate(
    model_path: str | Path, good: str | Path, out: str | Path, target_frr: float = FRR_TARGET,
    device: str = "auto", progress: Callable[[int, int], None] | None = None, defects: str | Path | None = None,
) -> tuple[Calibration, Calibration | None, list[tuple[str, str]], TradeOff]:  # fmt: skip
    """Score the good images in ``good`` (a folder, or an MVTec category's train/good) with the model and write
    it to ``out`` (atomically; may be ``model_path`` itself) with a threshold at ``target_frr`` on them; escapes
    are estimated on synthetic anomalies pasted into (up to 50 of) them and on the images in ``defects``
    (real defects the engineer marked), when given.

    Returns:
        ``(new, previous, skipped, tradeoff)``: the new calibration, the one the file had, unreadable images, and
        the false-reject / escape trade-off.

    Raises:
        DatasetError: the folder is missing or empty, or none of its images can be scored.
        ModelFileError: the model file is missing or broken.
    """
    paths, folder_skips = good_images(good)
    dev = resolve_device(device)
    tensors, doc = read_file(model_path, MODEL_FORMAT)
    model, meta = model_from_contents(model_path, tensors, doc, dev)
    extra = {k: v for k, v in tensors.items() if not k.startswith("model.")}
    inspector = Inspector(model, meta, dev, extra)
    scored, skipped = score_items(inspector, [TestItem(p, 0, "good", None) for p in paths], progress=progress)
    skipped = folder_skips + skipped
    kept = [s.item.path for s in scored]
    scores = np.asarray([s.score for s in scored], np.float64)
    if not kept:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3])
        raise DatasetError(good, f"none of the {len(paths)} images could be scored ({reasons})")
    synth = _synthetic_scores(inspector, kept[:MAX_SYNTH_SOURCES])
    marked = None
    if defects is not None:
        defect_paths, defect_folder_skips = good_images(defects)
        found, bad_skipped = score_items(inspector, [TestItem(p, 1, "marked", None) for p in defect_paths])
        marked, skipped = np.asarray([s.score for s in found]), skipped + defect_folder_skips + bad_skipped
    new, tradeoff = calibrate_tradeoff(scores, synth, marked, target_frr)
    previous = inspector.calibration
    record = {"on": str(good), "n_good": len(kept), "skipped": skipped, "time": now_iso(),
              "images_fingerprint": fingerprint(kept),
              "previous_threshold": previous.threshold if previous else None}  # fmt: skip
    training = {**meta.training, "recalibrated": record}
    calibration = {**new.to_dict(), "tradeoff": tradeoff.to_dict()}
    rewrite_metadata(out, tensors, replace(meta, calibration=calibration, training=training))
    return new, previous, skipped, tradeoff


def _synthetic_scores(inspector: Inspector, paths: list[Path]) -> np.ndarray:
    """Scores of the validation anomalies (held-out textures, structural kinds) made from the regions of ``paths``."""
    regions = [inspector.region_and_matrix(read_image(p))[0] for p in paths]
    if not regions:
        return np.zeros(0)
    images = torch.cat([(resize_to_model(t[None], inspector.size) * 255).round().byte()
                        for t in frames_to_uint8(regions, "cpu")])  # fmt: skip
    textures = validation_textures(*inspector.size, None, torch.device("cpu"))
    anomalous, _ = validation_anomalies(images, textures, SynthConfig())
    return np.concatenate([inspector.predict_tensor(anomalous[i : i + 8])[1].float().cpu().numpy()
                           for i in range(0, anomalous.shape[0], 8)]) if anomalous.shape[0] else np.zeros(0)  # fmt: skip
