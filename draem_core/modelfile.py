"""The model file: one safetensors file whose header carries JSON metadata. Loading never unpickles.

Layout: tensors ``model.*`` (the state dict, optionally fp16) and, in checkpoints, ``opt.*`` and ``rng.*``;
header metadata key ``draem_inspect`` holds the JSON document described by :class:`ModelMetadata`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from draem_core.config import ModelConfig
from draem_core.errors import ModelFileError
from draem_core.imageio import write_bytes_atomic
from draem_core.model import DraemModel
from draem_core.region import Roi, as_roi
from draem_core.version import CHECKPOINT_FORMAT, FORMAT_VERSION, MODEL_FORMAT, __version__

META_KEY = "draem_inspect"


@dataclass(frozen=True)
class ModelMetadata:
    """Everything a model file says about itself besides its weights."""

    model: ModelConfig  # architecture and input size
    name: str = "model"  # human name (product, line)
    channel_order: str = "RGB"  # order of the 3 input channels; mono frames are replicated
    calibration: dict | None = None  # draem_core.calibration.Calibration.to_dict()
    training: dict = field(default_factory=dict)  # steps, losses, time, device, settings
    dataset_fingerprint: str = ""  # sha256 over the training images (names and bytes)
    software_version: str = __version__
    created: str = ""  # ISO 8601 UTC
    format: str = MODEL_FORMAT
    format_version: int = FORMAT_VERSION
    extra: dict = field(default_factory=dict)  # free-form (e.g. evaluation metrics)
    roi: Roi | None = None  # inspection region (x, y, w, h) of the camera frame it was trained on; None = whole frame
    alignment: dict | None = None  # draem_core.alignment.Aligner.to_dict(): frames are registered to its part first
    scoring: dict | None = None  # draem_core.scoring.Scoring.to_dict(); None = the paper's score (older files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, doc: dict) -> ModelMetadata:
        doc = dict(doc)
        doc["model"] = ModelConfig(**doc["model"])
        doc["roi"] = as_roi(doc.get("roi"))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in doc.items() if k in known})


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def encode(tensors: dict[str, torch.Tensor], meta: dict) -> bytes:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    return st_save(tensors, metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def save_model(
    path: str | Path,
    model: DraemModel,
    meta: ModelMetadata,
    half: bool = False,
    extra: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write the model atomically. ``half`` stores float weights as fp16 (half the size); ``extra`` tensors (e.g.
    the scoring statistics ``scoring.*``, kept float32) are stored next to the weights."""
    state = {}
    for k, v in model.state_dict().items():
        state[f"model.{k}"] = v.half() if half and v.is_floating_point() else v
    state.update(extra or {})
    write_bytes_atomic(path, encode(state, json.loads(meta.to_json())))
    return Path(path)


def read_file(path: str | Path, expected_format: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and metadata document of a draem-inspect file, with every failure named.

    Raises:
        ModelFileError: missing, unreadable, truncated/corrupt, foreign, or newer format.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "file not found")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) < 8:
        raise ModelFileError(path, "file is empty or truncated")
    meta = _header_metadata(path, data)
    if META_KEY not in meta:
        raise ModelFileError(
            path, "not a draem-inspect file (a safetensors file without draem-inspect metadata)"
        )
    try:
        doc = json.loads(meta[META_KEY])
    except json.JSONDecodeError as exc:
        raise ModelFileError(path, f"metadata is not valid JSON ({exc.msg})") from exc
    _check_format(path, doc, expected_format)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"weights are corrupt or truncated ({exc})") from exc
    return tensors, doc


def _header_metadata(path: Path, data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ModelFileError(path, "not a safetensors file, or truncated (header length out of range)")
    try:
        header = json.loads(data[8 : 8 + n])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(path, "not a safetensors file (header is not JSON)") from exc
    if not isinstance(header, dict):
        raise ModelFileError(path, "not a safetensors file (header is not a JSON object)")
    end = max((t.get("data_offsets", [0, 0])[1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > len(data):
        raise ModelFileError(path, f"truncated: {len(data)} bytes, the header describes {8 + n + end}")
    return header.get("__metadata__") or {}


def _check_format(path: Path, doc: dict, expected: str) -> None:
    fmt, version = doc.get("format"), doc.get("format_version")
    if fmt != expected:
        what = "a training checkpoint" if fmt == CHECKPOINT_FORMAT else f"format {fmt!r}"
        raise ModelFileError(path, f"expected {expected}, found {what}")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        msg = f"format version {version} is newer than this software reads ({FORMAT_VERSION}); update draem-inspect"
        raise ModelFileError(path, msg)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[DraemModel, ModelMetadata]:
    """Build the network from the file's own config and load its weights (float32, eval mode)."""
    model, meta, _ = load_model_parts(path, device)
    return model, meta


def load_model_parts(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[DraemModel, ModelMetadata, dict[str, torch.Tensor]]:
    """As :func:`load_model`, plus the file's tensors that are not weights (e.g. ``scoring.*``), on the CPU."""
    tensors, doc = read_file(path, MODEL_FORMAT)
    model, meta = model_from_contents(path, tensors, doc)
    extra = {k: v for k, v in tensors.items() if not k.startswith("model.")}
    return model.to(device).eval(), meta, extra


def model_from_contents(
    path: str | Path, tensors: dict[str, torch.Tensor], doc: dict
) -> tuple[DraemModel, ModelMetadata]:
    """The network and metadata of a model file already read with :func:`read_file` (float32, on the CPU)."""
    try:
        meta = ModelMetadata.from_dict(doc)
    except (KeyError, TypeError) as exc:
        raise ModelFileError(path, f"metadata incomplete ({exc})") from exc
    model = DraemModel(meta.model)
    state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    load_state(path, model, state)
    return model, meta


def rewrite_metadata(out: str | Path, tensors: dict[str, torch.Tensor], meta: ModelMetadata) -> Path:
    """Write a model file with the tensors exactly as read (fp16 stays fp16) and new metadata, atomically."""
    write_bytes_atomic(out, encode(tensors, json.loads(meta.to_json())))
    return Path(out)


def load_state(path: str | Path, model: DraemModel, state: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ModelFileError(path, f"weights missing for {len(missing)} tensors (e.g. {missing[0]})")
    for k, v in state.items():
        if k not in expected or expected[k].shape != v.shape:
            raise ModelFileError(path, f"tensor {k} does not fit the {model.config.preset} network")
        if not torch.isfinite(v.float()).all():
            raise ModelFileError(path, f"tensor {k} holds NaN or infinite values")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
