"""Evaluation of a model on a labelled test set: metrics at model resolution, plots, worst cases.

A model with an inspection region is evaluated on that region of every image and mask (what it inspects live).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from draem_core.alignment import cut_region
from draem_core.dataset import TestItem, item_mask, test_items
from draem_core.errors import DatasetError, ImageReadError, shown
from draem_core.imageio import read_image, to_uint8_rgb
from draem_core.inspector import Inspector
from draem_core.metrics import EvalReport, auroc, evaluate_scores
from draem_core.per_type import per_type, plot_per_type
from draem_core.processing import frames_to_uint8, image_score, maps_to_size
from draem_core.region import RegionError, Roi


@dataclass(frozen=True)
class ScoredItem:
    item: TestItem
    score: float
    anomaly_map: np.ndarray  # (H, W) at model resolution
    matrix: np.ndarray | None = None  # alignment of the image to an aligned model's reference part
    paper_score: float | None = None  # the paper's score of the same probability map (for comparison)


def score_items(
    inspector: Inspector,
    items: list[TestItem],
    batch: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[ScoredItem], list[tuple[str, str]]]:
    """Raw scores and model-resolution maps of test images; unreadable images are returned, not dropped."""
    scored, skipped = [], []
    for start in range(0, len(items), batch):
        chunk, frames, matrices = [], [], []
        for it in items[start : start + batch]:
            try:
                region, matrix = inspector.region_and_matrix(read_image(it.path))
                frames.append(region)
                matrices.append(matrix)
                chunk.append(it)
            except ImageReadError as exc:
                skipped.append((str(it.path), exc.reason))
            except RegionError as exc:
                skipped.append((str(it.path), str(exc)))
        if chunk:
            maps, scores, paper = _predict(inspector, frames)
            scored += [
                ScoredItem(it, float(s), m, a, float(ps))
                for it, s, m, a, ps in zip(chunk, scores, maps, matrices, paper, strict=True)
            ]
        if progress:
            progress(min(start + batch, len(items)), len(items))
    return scored, skipped


def _predict(inspector: Inspector, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from draem_core.scoring import post_process

    tensors = frames_to_uint8(frames, inspector.device)
    maps, scores, paper = [], [], []
    for t in tensors:  # images may differ in size; each is resized to the model size anyway
        probability = inspector.probability_maps(t[None])
        m, s = post_process(probability, inspector.scoring, inspector.stats)
        maps.append(maps_to_size(m, inspector.size)[0].float().cpu().numpy())
        scores.append(float(s[0]))
        paper.append(float(image_score(probability)[0]))
    return np.stack(maps), np.asarray(scores), np.asarray(paper)


def evaluate(
    inspector: Inspector, root: str | Path, threshold: float | None = None
) -> tuple[EvalReport, list[ScoredItem], list]:
    """Metrics of a model on ``root`` (MVTec layout). ``threshold`` defaults to the model's calibrated one."""
    items = test_items(root)
    scored, skipped = score_items(inspector, items)
    if not scored:
        raise DatasetError(root, "no readable test images")
    _require_every_class(root, items, scored, skipped)
    size = inspector.size
    masks = [item_mask(s.item, size, inspector.model_roi, s.matrix) for s in scored]
    have_masks = all(m is not None for m in masks) and any(s.item.label for s in scored)
    labels, scores = [s.item.label for s in scored], [s.score for s in scored]
    report = evaluate_scores(
        labels, scores, threshold=inspector.threshold if threshold is None else threshold,
        masks=masks if have_masks else None, maps=[s.anomaly_map for s in scored] if have_masks else None,
    )  # fmt: skip
    both = 0 < sum(labels) < len(labels)
    extra = {"per_type": per_type([s.item.defect_type for s in scored], labels, scores, report.threshold),
             "paper_image_auroc": auroc(labels, [s.paper_score for s in scored]) if both else None,
             "scoring": inspector.scoring.method, "scoring_label": inspector.scoring.label}  # fmt: skip
    return replace(report, **extra), scored, skipped


def _require_every_class(
    root: str | Path, items: list[TestItem], scored: list[ScoredItem], skipped: list[tuple[str, str]]
) -> None:
    """Refuse an evaluation in which a whole class (good, or one defect type) could not be read: its numbers
    would describe another test set than the one asked for."""
    kept, reasons = {s.item.defect_type for s in scored}, dict(skipped)
    for kind in dict.fromkeys(it.defect_type for it in items):
        members = [it for it in items if it.defect_type == kind]
        if kind not in kept:
            first = members[0]
            reason = reasons.get(str(first.path), "unreadable")
            msg = f"none of the {len(members)} images of {kind!r} could be read (e.g. {shown(first.path.name)}: {reason})"
            raise DatasetError(root, msg)


def write_plots(
    report: EvalReport, scored: list[ScoredItem], out_dir: str | Path, worst: int = 12, roi: Roi | None = None
) -> list[Path]:
    """ROC, score histogram with the threshold, and contact sheets of the worst good and defective images
    (of their ``roi`` window: the model's inspection region)."""
    from draem_core.plots import contact_sheet, plot_roc, plot_score_histogram

    out = Path(out_dir)
    labels = [s.item.label for s in scored]
    scores = [s.score for s in scored]
    good = [s.score for s in scored if s.item.label == 0]
    bad = [s.score for s in scored if s.item.label == 1]
    paths = []
    if good and bad:
        paths.append(plot_roc(labels, scores, out / "roc.png"))
    paths.append(plot_score_histogram(good, bad or None, report.threshold, out / "histogram.png"))
    paths.append(plot_per_type([s.item.defect_type for s in scored], scores, report.threshold, out / "per_type.png"))
    for label, name in ((0, "worst_good.png"), (1, "worst_defects.png")):
        group = sorted((s for s in scored if s.item.label == label), key=lambda s: -s.score)[:worst]
        if group:
            items = [(_thumb(s.item.path, s.anomaly_map.shape, roi, s.matrix), s.anomaly_map,
                      f"{s.score:.3f}  {s.item.defect_type}/{s.item.path.name}") for s in group]  # fmt: skip
            paths.append(contact_sheet(items, out / name, scores=[s.score for s in group], threshold=0.5))
    return paths


def _thumb(
    path: Path, shape: tuple[int, int], roi: Roi | None = None, matrix: np.ndarray | None = None
) -> np.ndarray:
    import cv2

    image = np.ascontiguousarray(to_uint8_rgb(cut_region(read_image(path), roi, matrix)))
    return cv2.resize(image, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
