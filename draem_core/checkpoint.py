"""Training checkpoints: model, Adam state, RNG state and progress in one safetensors file (no pickle)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from draem_core.config import ModelConfig
from draem_core.errors import ModelFileError
from draem_core.imageio import write_bytes_atomic
from draem_core.model import DraemModel
from draem_core.modelfile import build_model, check_metadata, encode, now_iso, read_file
from draem_core.schema import CHECKPOINT_METADATA, brief
from draem_core.version import CHECKPOINT_FORMAT, FORMAT_VERSION, __version__

ADAM_STATE = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")  # per-parameter tensors of torch.optim.Adam


@dataclass(frozen=True)
class CheckpointInfo:
    """Progress of a run, stored beside the tensors."""

    model: ModelConfig
    step: int  # optimiser steps done
    elapsed_s: float  # training time spent so far (for minute budgets and ETA)
    budget: dict  # {"steps": N} | {"epochs": N} | {"minutes": M}, plus the resolved total steps
    train_images: list[str]  # paths trained on (the held-out split must not change on resume)
    holdout_images: list[str]
    settings: dict = field(default_factory=dict)  # TrainConfig and run options as JSON


def checkpoint_path(model_path: str | Path) -> Path:
    """Where the checkpoints of a run writing ``model_path`` go: ``<stem>.ckpt.safetensors`` beside it."""
    p = Path(model_path)
    return p.with_name(p.name.removesuffix(".safetensors") + ".ckpt.safetensors")


def save_checkpoint(
    path: str | Path,
    model: DraemModel,
    optimizer: torch.optim.Optimizer,
    rng: torch.Generator,
    info: CheckpointInfo,
) -> Path:
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_state = optimizer.state_dict()
    for idx, state in opt_state["state"].items():
        for key, value in state.items():
            tensors[f"opt.{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    tensors["rng.state"] = rng.get_state()
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "software_version": __version__,
        "created": now_iso(),
        "model": info.model.to_dict(),
        "step": info.step,
        "elapsed_s": info.elapsed_s,
        "budget": info.budget,
        "train_images": info.train_images,
        "holdout_images": info.holdout_images,
        "settings": info.settings,
        "param_groups": json.loads(json.dumps(opt_state["param_groups"], default=list)),
    }
    write_bytes_atomic(path, encode(tensors, meta))
    return Path(path)


def load_checkpoint(
    path: str | Path, device: torch.device
) -> tuple[DraemModel, dict[str, torch.Tensor], CheckpointInfo, dict]:
    """Model (on ``device``), optimizer tensors, progress info and the raw metadata of a checkpoint.

    Raises:
        ModelFileError: the file, a metadata field or a tensor is not what a checkpoint of ours holds.
    """
    tensors, doc = read_file(path, CHECKPOINT_FORMAT)
    check_metadata(path, doc, CHECKPOINT_METADATA)
    info = CheckpointInfo(
        ModelConfig(**doc["model"]), doc["step"], float(doc["elapsed_s"]), doc["budget"],
        list(doc["train_images"]), list(doc["holdout_images"]), doc.get("settings", {}),
    )  # fmt: skip
    model = build_model(path, info.model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    return model.to(device), tensors, info, doc


def restore_optimizer(
    path: str | Path, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], doc: dict
) -> None:
    """Load the Adam state stored in a checkpoint into ``optimizer`` (built for the checkpoint's network).

    Raises:
        ModelFileError: the stored state does not fit the network's parameters.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            idx, name = _optimizer_slot(path, key, value, params)
            state.setdefault(idx, {})[name] = value
    groups = doc.get("param_groups") or []
    for group in groups:
        group["betas"] = tuple(group.get("betas", (0.9, 0.999)))
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(path, f"optimizer state does not fit this network ({exc})") from exc


def restore_rng(path: str | Path, generator: torch.Generator, tensors: dict[str, torch.Tensor]) -> None:
    """Continue the random stream of the run (``rng.state``) in ``generator``.

    Raises:
        ModelFileError: the state is missing or is not one of ``generator``'s device kind.
    """
    state = tensors.get("rng.state")
    try:
        if state is None or state.dtype != torch.uint8:
            raise ValueError("missing or not bytes")
        generator.set_state(state)
    except (ValueError, RuntimeError) as exc:
        raise ModelFileError(path, f"random-number state does not fit a {generator.device} generator ({exc})") from exc


def _optimizer_slot(
    path: str | Path, key: str, value: torch.Tensor, params: list[torch.Tensor]
) -> tuple[int, str]:
    """``opt.<index>.<name>`` checked against the parameter it belongs to."""
    _, idx, name = (key.split(".", 2) + ["", ""])[:3]
    if not idx.isdigit() or int(idx) >= len(params) or name not in ADAM_STATE:
        raise ModelFileError(path, f"unexpected optimizer tensor {brief(key)}")
    shape = () if name == "step" else tuple(params[int(idx)].shape)
    if tuple(value.shape) != shape or not value.is_floating_point() or not torch.isfinite(value).all():
        raise ModelFileError(path, f"optimizer tensor {key} does not fit its parameter")
    return int(idx), name
