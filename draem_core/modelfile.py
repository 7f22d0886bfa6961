"""The model file: one safetensors file whose header carries JSON metadata. Loading never unpickles.

Layout: tensors ``model.*`` (the state dict, optionally fp16) and, in checkpoints, ``opt.*`` and ``rng.*``;
header metadata key ``draem_inspect`` holds the JSON document described by :class:`ModelMetadata`.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from draem_core.alignment import Aligner, AlignmentError
from draem_core.calibration import Calibration
from draem_core.config import ModelConfig
from draem_core.errors import ModelFileError
from draem_core.imageio import write_bytes_atomic
from draem_core.model import DiscriminativeNet, DraemModel, ReconstructiveNet
from draem_core.region import Roi, as_roi
from draem_core.schema import MODEL_METADATA, TENSOR_ENTRY, Obj, SchemaError, brief, check_document
from draem_core.version import CHECKPOINT_FORMAT, FORMAT_VERSION, MODEL_FORMAT, __version__

META_KEY = "draem_inspect"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit on the JSON header


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
        """Build from a metadata document already checked against :data:`draem_core.schema.MODEL_METADATA`
        (use :func:`metadata_from_doc`, which checks it)."""
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

    Only the container is checked here (header, JSON, format and version); the fields are checked by
    :func:`model_from_contents` and :func:`draem_core.checkpoint.load_checkpoint`.

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
    doc = _parse_document(path, meta[META_KEY])
    _check_format(path, doc, expected_format)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError, OverflowError) as exc:
        raise ModelFileError(path, f"weights are corrupt or truncated ({exc})") from exc
    return tensors, doc


def _header_metadata(path: Path, data: bytes) -> dict:
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise ModelFileError(path, "not a safetensors file, or truncated (header length out of range)")
    try:
        header = json.loads(data[8 : 8 + n])
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelFileError(path, "not a safetensors file (header is not JSON)") from exc
    if not isinstance(header, dict):
        raise ModelFileError(path, "not a safetensors file (header is not a JSON object)")
    end = 0
    for name, entry in header.items():
        if name != "__metadata__":
            end = max(end, _tensor_end(path, name, entry))
    if 8 + n + end > len(data):
        raise ModelFileError(path, f"truncated: {len(data)} bytes, the header describes {8 + n + end}")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelFileError(path, "corrupt safetensors header (__metadata__ is not a map of strings)")
    return meta


def _tensor_end(path: Path, name: str, entry: object) -> int:
    """Where the bytes of one tensor end, after checking its header entry."""
    try:
        TENSOR_ENTRY.check(entry, f"tensor {brief(name)}")
    except SchemaError as exc:
        raise ModelFileError(path, f"corrupt safetensors header ({exc})") from exc
    start, end = entry["data_offsets"]  # type: ignore[index]
    if start > end:
        raise ModelFileError(path, f"corrupt safetensors header (tensor {brief(name)}: data_offsets run backwards)")
    return end


def _parse_document(path: Path, text: str) -> dict:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ModelFileError(path, f"metadata is not valid JSON ({getattr(exc, 'msg', exc)})") from exc
    except RecursionError as exc:
        raise ModelFileError(path, "metadata is nested too deeply to be ours") from exc
    if not isinstance(doc, dict):
        raise ModelFileError(path, f"metadata is not a JSON object ({brief(doc)})")
    return doc


def _check_format(path: Path, doc: dict, expected: str) -> None:
    fmt, version = doc.get("format"), doc.get("format_version")
    if fmt != expected:
        what = "a training checkpoint" if fmt == CHECKPOINT_FORMAT else f"format {brief(fmt)}"
        raise ModelFileError(path, f"expected {expected}, found {what}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(path, f"format version {brief(version)} is not a positive whole number (corrupt file)")
    if version > FORMAT_VERSION:
        msg = f"format version {version} is newer than this software reads ({FORMAT_VERSION}); update draem-inspect"
        raise ModelFileError(path, msg)


def check_metadata(path: str | Path, doc: dict, spec: Obj) -> None:
    """Every field of a metadata document against ``spec`` (types and bounds), before anything is built.

    Raises:
        ModelFileError: naming the first field that does not fit and why.
    """
    try:
        check_document(doc, spec)
    except SchemaError as exc:
        what = "metadata" if exc.where == "metadata" else f"metadata field {exc.where}:"
        raise ModelFileError(path, f"{what} {exc.reason}") from exc


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[DraemModel, ModelMetadata]:
    """Build the network from the file's own config and load its weights (float32, eval mode, probed)."""
    model, meta, _ = load_model_parts(path, device)
    return model, meta


def load_model_parts(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[DraemModel, ModelMetadata, dict[str, torch.Tensor]]:
    """As :func:`load_model`, plus the file's tensors that are not weights (e.g. ``scoring.*``), on the CPU."""
    tensors, doc = read_file(path, MODEL_FORMAT)
    model, meta = model_from_contents(path, tensors, doc, device)
    extra = {k: v for k, v in tensors.items() if not k.startswith("model.")}
    return model, meta, extra


def model_from_contents(
    path: str | Path, tensors: dict[str, torch.Tensor], doc: dict, device: torch.device | str = "cpu"
) -> tuple[DraemModel, ModelMetadata]:
    """The network (float32, eval mode, on ``device``) and metadata of a model file read with
    :func:`read_file`: metadata checked against the schema, tensors against the network the metadata
    describes (before the network is built), then one probe inference on a synthetic frame.

    Raises:
        ModelFileError: a field, a tensor or the probe's output is not what a usable model has.
    """
    meta = metadata_from_doc(path, doc)
    state = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    model = build_model(path, meta.model, state).to(device).eval()
    probe(path, model)
    return model, meta


def metadata_from_doc(path: str | Path, doc: dict) -> ModelMetadata:
    """The checked metadata of a model file (schema, calibration, alignment reference).

    Raises:
        ModelFileError: naming the field that does not fit.
    """
    check_metadata(path, doc, MODEL_METADATA)
    meta = ModelMetadata.from_dict(doc)
    try:
        if meta.calibration is not None:
            Calibration.from_dict(meta.calibration)
        if meta.alignment is not None:
            Aligner.from_dict(meta.alignment)
    except (ValueError, AlignmentError) as exc:
        raise ModelFileError(path, str(exc)) from exc
    return meta


def rewrite_metadata(out: str | Path, tensors: dict[str, torch.Tensor], meta: ModelMetadata) -> Path:
    """Write a model file with the tensors exactly as read (fp16 stays fp16) and new metadata, atomically."""
    write_bytes_atomic(out, encode(tensors, json.loads(meta.to_json())))
    return Path(out)


@functools.lru_cache(maxsize=8)
def expected_tensors(config: ModelConfig) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Name -> (shape, is floating point) of the state of the network ``config`` describes, found without
    allocating it (built on the meta device)."""
    with torch.device("meta"):  # DraemModel's own initialisation is slow on meta tensors; its parts are not
        parts = {"reconstructive": ReconstructiveNet(config.rec_width),
                 "discriminative": DiscriminativeNet(config.disc_width)}  # fmt: skip
    return {f"{name}.{k}": (tuple(v.shape), v.is_floating_point())
            for name, part in parts.items() for k, v in part.state_dict().items()}  # fmt: skip


def build_model(path: str | Path, config: ModelConfig, state: dict[str, torch.Tensor]) -> DraemModel:
    """The network of ``config`` with the weights ``state``, once every tensor is checked against it.

    Raises:
        ModelFileError: a tensor is missing, unexpected, of another shape or kind, or not finite.
    """
    expected = expected_tensors(config)
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ModelFileError(path, f"weights missing for {len(missing)} tensors (e.g. {missing[0]})")
    for k, v in state.items():
        if k not in expected or expected[k][0] != tuple(v.shape):
            raise ModelFileError(path, f"tensor {brief(k)} does not fit the {brief(config.preset)} network")
        if expected[k][1] != v.is_floating_point() or v.dtype == torch.bool:
            raise ModelFileError(path, f"tensor {k} is stored as {v.dtype}, which does not fit")
        if v.is_floating_point() and not torch.isfinite(v.float()).all():
            raise ModelFileError(path, f"tensor {k} holds NaN or infinite values")
    model = DraemModel(config)
    reference = model.state_dict()
    model.load_state_dict({k: v.to(reference[k].dtype) for k, v in state.items()})
    return model


@torch.inference_mode()
def probe(path: str | Path, model: DraemModel) -> None:
    """One inference on a synthetic frame at the model's size; weights that give a non-finite reconstruction or
    map are refused (finite weights can still overflow, or a BatchNorm variance be negative).

    Raises:
        ModelFileError: the output is not finite, or the inference failed.
    """
    cfg = model.config
    frame = torch.rand((1, 3, cfg.image_height, cfg.image_width), generator=torch.Generator().manual_seed(0))
    try:
        out = model(frame.to(next(model.parameters()).device))
    except RuntimeError as exc:
        raise ModelFileError(path, f"a test inference failed ({exc})") from exc
    if not (torch.isfinite(out.reconstruction).all() and torch.isfinite(out.logits).all()):
        raise ModelFileError(path, "the weights give NaN or infinite output on a test frame (a corrupt model)")
