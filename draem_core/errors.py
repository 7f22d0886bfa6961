"""Exceptions that carry the thing (path, device) and the reason, worded for the person who must act."""

from __future__ import annotations

import os
import re


def shown(path: object) -> str:
    """A path (or any text) for one-line messages and printing: bytes that are not UTF-8 (a file name written
    under another code page, kept by Python as surrogate escapes) and control characters appear as ``\\xNN``
    instead of breaking the output or the line."""
    text = os.fspath(path) if isinstance(path, os.PathLike) else path
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    text = str(text)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that no file name produced (e.g. from JSON)
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(reason: object) -> str:
    """A reason as one line: runs of white space (line breaks included) become one space."""
    return shown(" ".join(str(reason).split()))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DraemError(Exception):
    """Base of every error draem_core raises on purpose."""


class ModelFileError(DraemError):
    """A model or checkpoint file is missing, truncated, corrupt, foreign or of a newer format."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"model file {shown(self.path)}: {one_line(reason)}")


class DatasetError(DraemError):
    """A dataset folder is missing, empty, or has no usable images."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"dataset {shown(self.path)}: {one_line(reason)}")


class ImageReadError(DraemError):
    """One image could not be read or decoded."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"image {shown(self.path)}: {one_line(reason)}")


class TrainingCancelled(DraemError):
    """Raised inside training when the caller asked it to stop (the checkpoint is already written)."""
