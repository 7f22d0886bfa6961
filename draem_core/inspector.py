"""Inspection of frames with a trained model: anomaly map, raw and normalised score, verdict.

The app, ``predict``, ``eval`` and the self-test all go through :class:`Inspector`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from draem_core.alignment import Aligner, AlignmentError, cut_region, map_to_frame
from draem_core.backends import BackendOptions, BackendRequest, open_backend, runtime_device
from draem_core.calibration import Calibration, normalise
from draem_core.errors import ModelFileError
from draem_core.model import DraemModel
from draem_core.modelfile import ModelMetadata, load_model_parts
from draem_core.processing import frames_to_uint8, maps_to_size, resize_to_model
from draem_core.region import Roi, clip_roi, require_inside
from draem_core.scoring import PixelStats, Scoring, post_process
from draem_core.verdict import NG, NON_FINITE, NOT_JUDGED, judge, threshold_in_force

__all__ = ["InspectionResult", "Inspector", "Roi"]


@dataclass(frozen=True)
class InspectionResult:
    """The judgement of one frame."""

    anomaly_map: np.ndarray  # (H, W) float32 in [0, 1] at frame size (zero outside the ROI)
    score: float  # raw score of the model's scoring (draem_core.scoring; the paper's: max of the 21x21 mean map)
    normalized: float  # calibrated: the threshold maps to 0.5
    threshold: float  # raw threshold used for the verdict
    verdict: str  # OK, NG or NOT_JUDGED (a non-finite map or score), see draem_core.verdict
    roi: Roi | None  # the region inspected: the operator's, else the model's; None = whole frame
    matrix: np.ndarray | None = field(default=None, compare=False)  # aligned models: reference -> frame coords
    reason: str = ""  # why the frame is NOT_JUDGED ("" otherwise)

    @property
    def is_ng(self) -> bool:
        """The model found a defect (NOT_JUDGED is a reject too, but not a defect: see ``rejected``)."""
        return self.verdict == NG

    @property
    def rejected(self) -> bool:
        """The part must not pass: NG or NOT_JUDGED."""
        return self.verdict != "OK"

    def region_outline(self) -> tuple[list[float], list[float]] | None:
        """Closed outline ``(xs, ys)`` of the inspected region in the frame (moved with the part when the
        model aligns parts); None for the whole frame."""
        if self.roi is None:
            return None
        x, y, w, h = self.roi
        corners = np.array([[x, x + w, x + w, x, x], [y, y, y + h, y + h, y], [1.0] * 5])
        if self.matrix is not None:
            corners[:2] = self.matrix @ corners
        return corners[0].tolist(), corners[1].tolist()


class Inspector:
    """Runs a DRAEM model on frames. Thread-compatible: use one Inspector per worker thread."""

    def __init__(
        self,
        model: DraemModel,
        meta: ModelMetadata,
        device: str | torch.device = "auto",
        extra: dict[str, torch.Tensor] | None = None,
        backend: str | BackendRequest = "torch",
        options: BackendOptions | None = None,
    ) -> None:
        """``extra``: the model file's non-weight tensors (the scoring statistics of normalized scorings);
        ``backend``/``options``: what runs the network (see :meth:`from_file`).

        Raises:
            ValueError: the scoring in ``meta`` or its statistics in ``extra`` are invalid.
        """
        self.device = runtime_device(backend, device)  # a CPU runtime (onnxruntime, openvino) runs on the CPU
        self.model = model.to(self.device).eval()
        self.meta = meta
        self.size = (meta.model.image_height, meta.model.image_width)
        self.calibration = Calibration.from_dict(meta.calibration) if meta.calibration else None
        self.threshold = threshold_in_force(self.calibration)
        self.model_roi: Roi | None = meta.roi  # the region of the frame the model was trained on
        self.aligner = Aligner.from_dict(meta.alignment) if meta.alignment else None  # registers frames first
        self.scoring = Scoring.from_dict(meta.scoring)  # map -> score; the paper's for older files
        stats = PixelStats.from_tensors(extra or {}, self.size)
        self.stats = stats.to(self.device) if stats is not None else None
        if self.scoring.normalized and self.stats is None:
            msg = f"scoring {self.scoring.method} needs per-pixel statistics, and the model file has none"
            raise ValueError(msg)
        self.backend = open_backend(backend, self, options)  # runs the network: torch, or a validated runtime

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        device: str = "auto",
        backend: str | BackendRequest = "torch",
        options: BackendOptions | None = None,
    ) -> Inspector:
        """Load a model file. ``backend``: torch | onnxruntime | openvino | auto (optionally ``name:int8``);
        ``options`` say where derived graphs are cached and which good frames may calibrate (BackendError when a
        named backend is missing or its outputs differ from torch's)."""
        dev = runtime_device(backend, device)
        model, meta, extra = load_model_parts(path, dev)
        try:
            return cls(model, meta, dev, extra, backend, options)
        except (AlignmentError, ValueError) as exc:
            raise ModelFileError(path, str(exc)) from exc

    def set_threshold(self, operator: float | None) -> None:
        """Use the operator's raw threshold; None goes back to the model's own (calibrated, else 0.5)."""
        self.threshold = threshold_in_force(self.calibration, operator)

    @torch.inference_mode()
    def predict_tensor(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images (B, 3, h, w)`` uint8 or float on the device -> maps ``(B, H, W)`` at model size, scores ``(B,)``."""
        x = resize_to_model(images.to(self.device), self.size)
        return post_process(self.backend.anomaly_maps(x), self.scoring, self.stats)

    @torch.inference_mode()
    def probability_maps(self, images: torch.Tensor) -> torch.Tensor:
        """The network's probability maps ``(B, H, W)`` at model size, before any scoring normalisation."""
        return self.backend.anomaly_maps(resize_to_model(images.to(self.device), self.size))

    def normalise(self, raw: float) -> float:
        """Normalised score: the active threshold (calibrated, or as the operator set it) maps to 0.5."""
        return float(normalise(raw, self.threshold))

    def region(self, frame: np.ndarray) -> np.ndarray:
        """The part of ``frame`` the model inspects (its own region, or the whole frame).

        Raises:
            RegionError: the frame does not contain the model's region.
        """
        return self.region_and_matrix(frame)[0]

    def region_and_matrix(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The region as :meth:`region` gives it, and the alignment matrix used (None: not aligned).

        Raises:
            RegionError: the frame does not contain the region, or (aligned models) cannot be aligned.
        """
        if self.model_roi is None:
            return frame, None
        require_inside(frame.shape, self.model_roi)
        m = self.aligner.matrix(frame) if self.aligner is not None else None
        return cut_region(frame, self.model_roi, m), m

    def inspect(self, frame: np.ndarray, roi: Roi | None = None) -> InspectionResult:
        return self.inspect_batch([frame], roi)[0]

    def inspect_batch(self, frames: Sequence[np.ndarray], roi: Roi | None = None) -> list[InspectionResult]:
        """Judge frames of the same size (or any sizes, batched per size) and return maps at frame size.

        ``roi`` (the operator's region, clipped to the frame) overrides the model's own region; without either
        the whole frame is inspected. A frame that lacks the model's region raises RegionError. An aligned model
        registers each frame to its reference part first (AlignmentError, a RegionError, when it cannot) and
        cuts the region out in the reference pose; maps are put back where the part lies in the frame.
        """
        if roi is None and self.model_roi is not None:
            for f in frames:
                require_inside(f.shape, self.model_roi)
            roi = self.model_roi
        matrices: list[np.ndarray | None] = [None] * len(frames)
        if self.aligner is not None:
            roi = clip_roi(frames[0].shape, roi or self.aligner.roi)
            matrices = [self.aligner.matrix(f) for f in frames]
        crops = [cut_region(f, roi, m) for f, m in zip(frames, matrices, strict=True)]
        results: list[InspectionResult | None] = [None] * len(frames)
        by_shape: dict[tuple, list[int]] = {}
        for i, c in enumerate(crops):
            by_shape.setdefault(c.shape[:2], []).append(i)
        for shape, idx in by_shape.items():
            batch = torch.stack(frames_to_uint8([crops[i] for i in idx], self.device))
            maps, scores = self.predict_tensor(batch)
            finite = torch.isfinite(maps).flatten(1).all(1).tolist()
            full = maps_to_size(maps, shape).float().cpu().numpy()
            for j, i in enumerate(idx):
                score = float(scores[j]) if finite[j] else float("nan")
                results[i] = self._result(frames[i], full[j], score, roi, matrices[i])
        return results  # type: ignore[return-value]

    def _result(
        self,
        frame: np.ndarray,
        crop_map: np.ndarray,
        score: float,
        roi: Roi | None,
        matrix: np.ndarray | None,
    ) -> InspectionResult:
        if matrix is not None and roi is not None:
            amap = map_to_frame(crop_map, matrix, roi, frame.shape)
        elif roi is None:
            amap = crop_map
        else:
            amap = np.zeros(frame.shape[:2], np.float32)
            x, y, w, h = clip_roi(frame.shape, roi)
            amap[y : y + h, x : x + w] = crop_map
        verdict = judge(score, self.threshold)
        reason = f"{NON_FINITE} (the model's anomaly map or score is NaN or infinite)" if verdict == NOT_JUDGED else ""
        return InspectionResult(amap, score, self.normalise(score), self.threshold, verdict, roi, matrix, reason)
