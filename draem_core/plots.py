"""Evaluation pictures: ROC curve, good-vs-defect score histogram, and a contact sheet of heatmaps.

matplotlib is imported inside the functions (it is slow to import and only reports need it) and used through
its object API with the Agg canvas, so plotting works in worker threads and headless. Every file is written
atomically.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from draem_core.imageio import write_bytes_atomic, write_image_atomic
from draem_core.metrics import auroc, escape_rate, false_reject_rate, roc_curve
from draem_core.overlay import heatmap_overlay

GOOD_COLOR = "#2a9d8f"  # histogram bars of good parts
DEFECT_COLOR = "#e76f51"  # histogram bars of defective parts
FIGSIZE = (6.4, 4.8)  # inches; 640 x 480 pixels at DPI
DPI = 100  # dots per inch of saved figures
TILE = 256  # contact sheet: tile height in pixels (tiles follow the images' aspect, at most MAX_TILE_WIDTH wide)
MAX_TILE_WIDTH = 512  # contact sheet: widest tile in pixels
TITLE_HEIGHT = 24  # contact sheet: pixel height of the title strip above each tile


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=FIGSIZE, dpi=DPI, layout="tight")


def _save(fig, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png")
    write_bytes_atomic(path, buffer.getvalue())
    return Path(path)


def plot_roc(labels: Sequence[int], scores: Sequence[float], path: str | Path) -> Path:
    """ROC curve of image scores with the AUROC in the title; returns the path written."""
    fpr, tpr, _ = roc_curve(labels, scores)
    labels_arr = np.asarray(labels, dtype=bool)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, color=DEFECT_COLOR, lw=2, drawstyle="default")
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false-positive rate (good judged NG)")
    ax.set_ylabel("true-positive rate (defects caught)")
    ax.set_title(
        f"ROC, AUROC = {auroc(labels, scores):.4f}  ({(~labels_arr).sum()} good, {labels_arr.sum()} defect)"
    )
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_score_histogram(
    good: Sequence[float],
    defect: Sequence[float] | None,
    threshold: float,
    path: str | Path,
) -> Path:
    """Histograms of good and defective image scores with the threshold line; rates in the legend."""
    good_arr = np.asarray(good, dtype=np.float64).ravel()
    defect_arr = np.asarray(defect if defect is not None else [], dtype=np.float64).ravel()
    both = np.concatenate([good_arr, defect_arr, [threshold]])
    bins = np.linspace(float(both.min()), float(both.max()) + 1e-9, 41)
    fig = _figure()
    ax = fig.add_subplot()
    frr = false_reject_rate(good_arr, threshold)
    ax.hist(
        good_arr, bins=bins, color=GOOD_COLOR, alpha=0.7, label=f"good (n={good_arr.size}, FRR {frr:.1%})"
    )
    if defect_arr.size:
        esc = escape_rate(defect_arr, threshold)
        label = f"defect (n={defect_arr.size}, escape {esc:.1%})"
        ax.hist(defect_arr, bins=bins, color=DEFECT_COLOR, alpha=0.7, label=label)
    ax.axvline(threshold, color="black", ls="--", lw=1.5, label=f"threshold {threshold:.4g}")
    ax.set(xlabel="image anomaly score (raw)", ylabel="images")
    title = "Scores of good vs defective images" if defect_arr.size else "Scores of good images (no defects)"
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def contact_sheet(
    items: Sequence[tuple[np.ndarray, np.ndarray, str]],
    path: str | Path,
    *,
    scores: Sequence[float] | None = None,
    threshold: float | None = None,
    columns: int = 4,
) -> Path:
    """A grid of heatmap overlays with titles, worst first, written as one image.

    Args:
        items: ``(image RGB uint8 (H, W, 3), anomaly map (h, w) in 0..1, title)`` per tile.
        path: output image file (png/jpg).
        scores: per item score for the ordering; None = the maximum of each map.
        threshold: map threshold for contours on the overlays, or None.
        columns: tiles per row (fewer when there are fewer items).
    """
    if not items:
        msg = "contact sheet needs at least one item"
        raise ValueError(msg)
    order = np.asarray(scores if scores is not None else [float(np.max(m)) for _, m, _ in items])
    h0, w0 = items[0][0].shape[:2]
    box = (min(MAX_TILE_WIDTH, max(TILE, round(TILE * w0 / h0))), TILE)  # (width, height) of every tile
    tiles = [_tile(*items[i], threshold, box) for i in np.argsort(-order, kind="stable")]
    columns = min(columns, len(tiles))
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return write_image_atomic(path, np.vstack(rows))


def _tile(
    image: np.ndarray, amap: np.ndarray, title: str, threshold: float | None, box: tuple[int, int]
) -> np.ndarray:
    overlay = heatmap_overlay(image, amap, threshold=threshold)
    height, width = overlay.shape[:2]
    box_w, box_h = box
    scale = min(box_w / width, box_h / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = cv2.resize(overlay, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    tile = np.full((TITLE_HEIGHT + box_h, box_w, 3), 255, dtype=np.uint8)
    top, left = TITLE_HEIGHT + (box_h - size[1]) // 2, (box_w - size[0]) // 2
    tile[top : top + size[1], left : left + size[0]] = resized
    text = _fit(title, box_w)
    cv2.putText(tile, text, (4, TITLE_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def _fit(title: str, width: int = TILE) -> str:
    """Shorten a title with an ellipsis until it fits one tile width."""
    text = title
    while text and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)[0][0] > width - 8:
        text = text[:-1]
    return text if text == title else text[:-3] + "..."
