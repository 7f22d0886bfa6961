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
from draem_core.modelfile import encode, load_state, now_iso, read_file
from draem_core.version import CHECKPOINT_FORMAT, FORMAT_VERSION, __version__


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
    """Model (on ``device``), optimizer tensors, progress info and the raw metadata of a checkpoint."""
    tensors, doc = read_file(path, CHECKPOINT_FORMAT)
    try:
        info = CheckpointInfo(
            ModelConfig(**doc["model"]), int(doc["step"]), float(doc["elapsed_s"]), doc["budget"],
            list(doc["train_images"]), list(doc["holdout_images"]), doc.get("settings", {}),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(path, f"checkpoint metadata incomplete ({exc})") from exc
    model = DraemModel(info.model)
    load_state(path, model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    return model.to(device), tensors, info, doc


def restore_optimizer(
    path: str | Path, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], doc: dict
) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    groups = doc.get("param_groups") or []
    for group in groups:
        group["betas"] = tuple(group.get("betas", (0.9, 0.999)))
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise ModelFileError(path, f"optimizer state does not fit this network ({exc})") from exc
