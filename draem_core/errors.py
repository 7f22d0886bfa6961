"""Exceptions that carry the thing (path, device) and the reason, worded for the person who must act."""

from __future__ import annotations


class DraemError(Exception):
    """Base of every error draem_core raises on purpose."""


class ModelFileError(DraemError):
    """A model or checkpoint file is missing, truncated, corrupt, foreign or of a newer format."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"model file {self.path}: {reason}")


class DatasetError(DraemError):
    """A dataset folder is missing, empty, or has no usable images."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"dataset {self.path}: {reason}")


class ImageReadError(DraemError):
    """One image could not be read or decoded."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"image {self.path}: {reason}")


class TrainingCancelled(DraemError):
    """Raised inside training when the caller asked it to stop (the checkpoint is already written)."""
