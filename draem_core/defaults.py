"""Defaults that work without flags, shared by ``train`` and the retrain wizard.

- **Input size from the images**: the model keeps the images' aspect ratio at about :data:`INPUT_PIXELS` pixels
  (a 460x1130 ball-screw crop becomes 160x416, a 4096x256 fabric strip 64x1024, an 800x600 tyre 288x224), instead
  of squashing every image to 256x256. With an inspection region, the region's size counts.
- **Preset and budget by device**: on a CPU the ``cpu`` preset for :data:`CPU_STEPS` steps of 8 images, about 30
  minutes on 2 quiet cores at ~65k input pixels (docs/benchmarks.md §1: 546 steps in 22.0 min at 160x384); on a GPU
  the ``paper`` network for :data:`GPU_STEPS` steps (an estimate from the paper's speed, not measured here).
- Normal-image rotation is off (``SynthConfig.p_rotate`` 0): a fixed camera does not turn the part, and the
  rotated, black-cornered "normal" images cost a small network capacity (docs/benchmarks.md §1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from draem_core.errors import ImageReadError
from draem_core.imageio import read_image

INPUT_PIXELS = 256 * 256  # model input area the automatic size aims for
SIDE_MULTIPLE = 32  # model sides are multiples of this (five stride-2 stages)
MIN_SIDE, MAX_SIDE = 64, 1024  # bounds of an automatic model side
SIZE_SAMPLE = 12  # images read to find the typical image size
CPU_PRESET, CPU_STEPS = "cpu", 700  # ~30 min on 2 quiet cores at ~65k pixels, batch 8
GPU_PRESET, GPU_STEPS = "paper", 6000  # ~30 min estimated on a current GPU (not measured here)


def input_size(image_hw: tuple[int, int], pixels: int = INPUT_PIXELS) -> tuple[int, int]:
    """Model ``(height, width)`` with the aspect of ``image_hw`` and about ``pixels`` pixels, sides multiples of
    :data:`SIDE_MULTIPLE` within [:data:`MIN_SIDE`, :data:`MAX_SIDE`]."""
    h, w = max(1, int(image_hw[0])), max(1, int(image_hw[1]))
    scale = math.sqrt(pixels / (h * w))
    return _side(h * scale), _side(w * scale)


def _side(n: float) -> int:
    return int(min(MAX_SIDE, max(MIN_SIDE, round(n / SIDE_MULTIPLE) * SIDE_MULTIPLE)))


def typical_size(paths: Sequence[Path], roi: tuple[int, int, int, int] | None = None) -> tuple[int, int] | None:
    """The median ``(height, width)`` of up to :data:`SIZE_SAMPLE` readable images spread over ``paths`` (the
    region's size when ``roi`` is given); None when none can be read."""
    if roi is not None:
        return int(roi[3]), int(roi[2])
    step = max(1, len(paths) // SIZE_SAMPLE)
    sizes = []
    for p in list(paths)[::step][:SIZE_SAMPLE]:
        try:
            sizes.append(read_image(p).shape[:2])
        except ImageReadError:
            continue
    if not sizes:
        return None
    hs, ws = sorted(s[0] for s in sizes), sorted(s[1] for s in sizes)
    return hs[len(hs) // 2], ws[len(ws) // 2]


def dataset_input_size(paths: Sequence[Path], roi: tuple[int, int, int, int] | None = None) -> tuple[int, int]:
    """:func:`input_size` of the images' typical size; 256x256 when no image can be read (training then reports
    the unreadable images itself)."""
    typical = typical_size(paths, roi)
    return input_size(typical) if typical is not None else (256, 256)


def default_budget(device_type: str) -> tuple[str, int]:
    """``(preset, steps)`` for about 30 minutes of training on ``device_type`` ("cpu" or "cuda")."""
    return (GPU_PRESET, GPU_STEPS) if device_type == "cuda" else (CPU_PRESET, CPU_STEPS)
