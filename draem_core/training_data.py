"""Good images for training: the held-out split, loading into memory at model size, the dataset fingerprint."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from draem_core.alignment import Aligner, cut_region
from draem_core.errors import ImageReadError
from draem_core.imageio import read_image
from draem_core.processing import frames_to_uint8, resize_to_model
from draem_core.region import RegionError, Roi, describe_roi, fits


@dataclass
class TrainingImages:
    """Training and held-out images as uint8 tensors ``(N, 3, H, W)`` at model size (on the CPU)."""

    train: torch.Tensor
    holdout: torch.Tensor
    train_paths: list[Path]
    holdout_paths: list[Path]

    def batch(
        self, n: int, generator: torch.Generator, device: torch.device, crop: tuple[int, int] | None = None
    ) -> torch.Tensor:
        """``n`` random training images (or random ``crop`` windows of them) as float ``(n, 3, h, w)`` in [0, 1]."""
        idx = torch.randint(0, self.train.shape[0], (n,), generator=generator, device=generator.device).cpu()
        images = self.train[idx]
        if crop is not None:
            images = _random_crops(images, crop, generator)
        return images.to(device, non_blocking=True).float() / 255.0


def _random_crops(images: torch.Tensor, crop: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    h, w = images.shape[-2:]
    ch, cw = min(crop[0], h), min(crop[1], w)
    ys = torch.randint(
        0, h - ch + 1, (images.shape[0],), generator=generator, device=generator.device
    ).tolist()
    xs = torch.randint(
        0, w - cw + 1, (images.shape[0],), generator=generator, device=generator.device
    ).tolist()
    return torch.stack([im[:, y : y + ch, x : x + cw] for im, y, x in zip(images, ys, xs, strict=True)])


def split_holdout(
    paths: list[Path], fraction: float, minimum: int, seed: int
) -> tuple[list[Path], list[Path]]:
    """Deterministic split: ``round(fraction * n)`` (at least ``minimum``) held out, if at least 3x that remain."""
    paths = sorted(paths)
    n_hold = max(minimum, round(fraction * len(paths))) if fraction > 0 else 0
    if len(paths) < 3 * n_hold or n_hold == 0:
        return paths, []
    order = np.random.default_rng(seed).permutation(len(paths))
    hold = sorted(paths[i] for i in order[:n_hold])
    return [p for p in paths if p not in set(hold)], hold


def _load(
    paths: list[Path], size: tuple[int, int], roi: Roi | None, aligner: Aligner | None = None
) -> tuple[torch.Tensor, list[Path], list[tuple[str, str]]]:
    out, kept, skipped = [], [], []
    for p in paths:
        try:
            image = read_image(p)
        except ImageReadError as exc:
            skipped.append((str(p), exc.reason))
            continue
        if roi is not None:
            if not fits(image.shape, roi):
                skipped.append((str(p), f"{image.shape[1]}x{image.shape[0]} image does not contain the "
                                f"inspection region {describe_roi(roi)}"))  # fmt: skip
                continue
            try:
                image = cut_region(image, roi, aligner.matrix(image) if aligner is not None else None)
            except RegionError as exc:  # an image that cannot be aligned
                skipped.append((str(p), str(exc)))
                continue
        x = resize_to_model(frames_to_uint8([image], "cpu")[0][None], size)
        out.append((x * 255).round().byte()[0])
        kept.append(p)
    empty = torch.zeros((0, 3, *size), dtype=torch.uint8)
    return (torch.stack(out) if out else empty), kept, skipped


def load_training_images(
    train_paths: list[Path],
    holdout_paths: list[Path],
    size: tuple[int, int],
    roi: Roi | None = None,
    aligner: Aligner | None = None,
) -> tuple[TrainingImages, list[tuple[str, str]]]:
    """Read all images, crop them to ``roi`` (the inspection region) and resize them to the model size.

    With ``aligner`` each image is first registered to its reference part and the region is cut out in the
    reference pose. Unreadable images, images without the whole region and images that cannot be aligned are
    returned as ``(path, reason)``, not dropped silently.
    """
    train, train_kept, skipped = _load(train_paths, size, roi, aligner)
    hold, hold_kept, skipped_h = _load(holdout_paths, size, roi, aligner)
    return TrainingImages(train, hold, train_kept, hold_kept), skipped + skipped_h


def fingerprint(paths: list[Path]) -> str:
    """sha256 over the file names and bytes of the images, in name order.

    Names are hashed as the bytes on disk, so a name that is not valid UTF-8 (kept by Python as surrogate
    escapes) is hashed as well; valid names give the same hash as before.

    Raises:
        ImageReadError: an image can no longer be read.
    """
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda q: q.name):
        h.update(os.fsencode(p.name))
        try:
            h.update(hashlib.sha256(p.read_bytes()).digest())
        except OSError as exc:
            raise ImageReadError(p, exc.strerror or str(exc)) from exc
    return h.hexdigest()
