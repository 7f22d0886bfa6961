"""The retrain plan: the one Qt-free object every wizard page edits, with its validation.

The wizard's pages read and write a single :class:`RetrainPlan` (house style §13); the plan turns itself
into a :class:`draem_core.train.TrainPlan` when training starts. Validation refuses what cannot give a usable
model (fewer than 20 good images, a size the network cannot take) and warns about what gives a weak one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from draem_core.alignment import ALIGN_SCALE
from draem_core.config import PRESETS, TrainConfig, preset
from draem_core.defaults import CPU_PRESET, CPU_STEPS, input_size
from draem_core.train import TrainPlan

MIN_GOOD = 20  # fewer good images than this are refused (Anomalib Studio refuses below 20 too)
ADVISED_GOOD = 50  # fewer than this trains, with a warning
MIN_SIDE = 32  # smallest model input side (one stride-32 cell)
MAX_SIDE = 1024  # largest model input side the wizard offers
HOLDOUT_RANGE = (0.05, 0.5)  # allowed share of good images held out for calibration
BUDGET_KINDS = ("steps", "minutes")  # budgets the wizard offers (epochs stay a CLI option)
DEFAULT_SIZE = (256, 256)  # model size until the engineer (or the image aspect ratio) sets one
GPU_PRESETS = ("paper", "half")  # presets too large to train on a CPU in a working day


@dataclass(frozen=True)
class PlanCheck:
    """Outcome of :meth:`RetrainPlan.check`: errors block training, warnings only inform."""

    errors: tuple[str, ...] = ()  # reasons training is refused, each a sentence the engineer can act on
    warnings: tuple[str, ...] = ()  # reasons the model may be weak

    @property
    def ok(self) -> bool:
        """True when nothing blocks training."""
        return not self.errors


@dataclass
class RetrainPlan:
    """Everything the engineer chose in the wizard. Mutable on purpose: the pages edit it in turn."""

    dataset: Path | None = None  # dataset folder (a manifest.json beside the images), None until chosen
    images: list[Path] = field(default_factory=list)  # every image of the dataset, in capture order
    deleted: set[Path] = field(default_factory=set)  # images the engineer removed from training
    defective: set[Path] = field(default_factory=set)  # images marked as real defects (evaluation only)
    preset: str = CPU_PRESET  # network preset, a key of draem_core.config.PRESETS (draem_core.defaults)
    size: tuple[int, int] = DEFAULT_SIZE  # model input (height, width), multiples of 32
    budget_kind: str = "steps"  # "steps" or "minutes"
    budget: float = CPU_STEPS  # number of steps (~30 min on 2 CPU cores, draem_core.defaults), or minutes
    batch_size: int = 8  # images per optimiser step
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    anomaly_source: Path | None = None  # texture folder for synthetic anomalies; None = bundled textures
    holdout_share: float = 0.1  # share of good images kept back for calibration and evaluation
    checkpoint_every: int = 100  # steps between checkpoints (a killed run loses at most this many)
    seed: int = 0  # seeds the split, the synthesis and the initial weights
    name: str = ""  # model name shown in the app; defaults to the dataset's name
    model_out: Path | None = None  # model file the Train page writes (set when training starts)
    threshold: float | None = None  # raw threshold chosen on the Evaluate page; None = calibrated one
    roi: tuple[int, int, int, int] | None = None  # inspection region (x, y, w, h) to crop to; the deployed model's
    align: bool = False  # register images to a reference part before cropping (as the deployed model does)
    align_scale: float = ALIGN_SCALE  # size of that registration relative to the frame (the deployed model's)

    @property
    def good_images(self) -> list[Path]:
        """The images training uses: all images less the deleted and the defective ones."""
        return [p for p in self.images if p not in self.deleted and p not in self.defective]

    @property
    def defect_images(self) -> list[Path]:
        """Images marked defective and not deleted."""
        return [p for p in self.images if p in self.defective and p not in self.deleted]

    @property
    def holdout_count(self) -> int:
        """Good images held out for calibration (the rule of draem_core.training_data.split_holdout)."""
        n = len(self.good_images)
        n_hold = max(TrainConfig.min_holdout, round(self.holdout_share * n))
        return n_hold if n >= 3 * n_hold else 0

    def model_name(self) -> str:
        """The name the model gets: the plan's, else the dataset folder's."""
        return self.name.strip() or (self.dataset.name if self.dataset is not None else "model")

    def check(self) -> PlanCheck:
        """Validate the plan; see :class:`PlanCheck`."""
        errors, warnings = [], []
        errors += self._dataset_errors()
        errors += self._settings_errors()
        n = len(self.good_images)
        if self.dataset is not None and MIN_GOOD <= n < ADVISED_GOOD:
            warnings.append(
                f"Only {n} good images: {ADVISED_GOOD} or more give a more reliable model and threshold."
            )
        if self.device == "cpu" and self.preset in GPU_PRESETS:
            warnings.append(
                f"The {self.preset} preset is very slow on a CPU; choose cpu or compact, or a GPU."
            )
        if self.dataset is not None and not self.defect_images:
            warnings.append("No image is marked defective: escape rates come from synthetic defects only.")
        return PlanCheck(tuple(errors), tuple(warnings))

    def _dataset_errors(self) -> list[str]:
        if self.dataset is None:
            return ["No dataset: create or open one on the Collect page."]
        n = len(self.good_images)
        if n < MIN_GOOD:
            return [f"Only {n} good images: at least {MIN_GOOD} are needed. Collect or import more."]
        return []

    def _settings_errors(self) -> list[str]:
        errors = []
        if self.preset not in PRESETS:
            errors.append(f"Unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}.")
        for side, what in zip(self.size, ("height", "width"), strict=True):
            if side % 32 or not MIN_SIDE <= side <= MAX_SIDE:
                errors.append(
                    f"Model {what} {side} must be a multiple of 32 between {MIN_SIDE} and {MAX_SIDE}."
                )
        if self.budget_kind not in BUDGET_KINDS:
            errors.append(f"Unknown budget {self.budget_kind!r}; use steps or minutes.")
        elif self.budget <= 0:
            errors.append(f"The training budget ({self.budget:g} {self.budget_kind}) must be positive.")
        if not HOLDOUT_RANGE[0] <= self.holdout_share <= HOLDOUT_RANGE[1]:
            errors.append(f"Held-out share {self.holdout_share:.0%} must lie between 5% and 50%.")
        if self.anomaly_source is not None and not Path(self.anomaly_source).is_dir():
            errors.append(f"Anomaly-source folder {self.anomaly_source} does not exist.")
        if self.batch_size < 1:
            errors.append(f"Batch size {self.batch_size} must be at least 1.")
        return errors

    def train_config(self) -> TrainConfig:
        """The draem_core training schedule this plan asks for."""
        budget = (
            {"steps": int(self.budget)} if self.budget_kind == "steps" else {"minutes": float(self.budget)}
        )
        return TrainConfig(**budget, batch_size=self.batch_size, holdout_fraction=self.holdout_share,
                           checkpoint_every=self.checkpoint_every, seed=self.seed, device=self.device)  # fmt: skip

    def to_train_plan(self, out: Path, resume: Path | None = None) -> TrainPlan:
        """The training run of this plan, writing ``out``.

        Raises:
            ValueError: the plan does not pass :meth:`check` (the message lists why).
        """
        verdict = self.check()
        if not verdict.ok:
            raise ValueError(" ".join(verdict.errors))
        return TrainPlan(
            data=self.dataset,  # type: ignore[arg-type]  # check() guarantees a dataset
            out=Path(out),
            model=preset(self.preset, self.size),
            train=self.train_config(),
            anomaly_source=self.anomaly_source,
            name=self.model_name(),
            resume=resume,
            images=tuple(self.good_images),
            roi=self.roi,
            align=self.align and self.roi is not None,
            align_scale=self.align_scale,
        )


def suggest_size(image_hw: tuple[int, int]) -> tuple[int, int]:
    """The model size ``train`` picks for images of ``image_hw`` (``draem_core.defaults.input_size``: the images'
    aspect at about 256x256 pixels), kept inside the wizard's side limits."""
    h, w = input_size(image_hw)
    return min(MAX_SIDE, max(MIN_SIDE, h)), min(MAX_SIDE, max(MIN_SIDE, w))
