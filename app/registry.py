"""The model registry: numbered model versions, one active, rollback by re-activating an older one.

Layout under ``data_home()/models``::

    v0001/model.safetensors   the model file, stamped with its version (metadata extra["version"])
    v0001/record.json         dataset fingerprint, training settings, calibration, metrics, parent version
    active.json               {"active": "v0002", "previous": "v0001", "activated": "..."}

A version is assembled in a hidden staging folder and renamed into place in one step, and the active
pointer is replaced atomically, so a crash at any moment leaves the registry as it was before or after the
change, never half-written. Qt-free: the wizard, the live window and the CLI share it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.paths import data_home
from draem_core.device import resolve_device
from draem_core.errors import DraemError
from draem_core.imageio import remove_leftover_temp_files, write_bytes_atomic
from draem_core.modelfile import encode, model_from_contents, now_iso, read_file
from draem_core.version import MODEL_FORMAT

MODEL_FILE = "model.safetensors"  # the model file inside a version folder
RECORD_FILE = "record.json"  # the version's record
ACTIVE_FILE = "active.json"  # the active-version pointer
VERSION_RE = re.compile(r"^v(\d{4,})$")  # version folder names: v0001, v0002, ...
SCORE_LISTS = ("holdout_scores", "synthetic_defect_scores", "skipped")  # bulky training fields not copied
STAGING_PREFIX = ".staging-"  # hidden folder a version is assembled in before its rename into place
STALE_AFTER_S = 600.0  # a temp file or staging folder untouched this long belongs to a write that died


class RegistryError(DraemError):
    """A registry file is missing, corrupt or inconsistent."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"model registry {self.path}: {reason}")


@dataclass(frozen=True)
class VersionRecord:
    """What the registry knows about one model version (record.json)."""

    id: str  # "v0001", ...
    name: str  # the model's name
    created: str  # ISO 8601 UTC time the version was added
    parent: str | None  # version that was active when this one was added
    sha256: str  # of the stored model file
    dataset_fingerprint: str  # sha256 over the training images (draem_core.training_data.fingerprint)
    dataset: str  # dataset folder it was trained from ("" if unknown)
    training: dict  # preset, size, steps, batch, device, time (score lists left out)
    calibration: dict  # the calibration in the model file (threshold included)
    metrics: dict  # evaluation numbers at the stored threshold ({} if none)
    source: str  # path the model file was added from
    note: str = ""  # free text from the engineer
    folder: Path = field(default=Path(), compare=False)  # version folder (not stored)

    @property
    def model_path(self) -> Path:
        """The version's model file."""
        return self.folder / MODEL_FILE

    @property
    def threshold(self) -> float | None:
        """The raw threshold stored with the version."""
        value = self.calibration.get("threshold") if self.calibration else None
        return float(value) if value is not None else None

    def to_dict(self) -> dict:
        """JSON-safe dict (without the folder)."""
        doc = asdict(self)
        doc.pop("folder")
        return doc


class ModelRegistry:
    """Model versions in a folder (default ``data_home()/models``)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else data_home() / "models"
        self.problems: list[tuple[Path, str]] = []  # corrupt records skipped by the last versions() call
        self.removed = self._remove_leftovers()  # temp files and staging folders of writes that died

    def _remove_leftovers(self) -> list[Path]:
        """Remove what an add or activate killed mid-write left behind (only our own names, and only once
        they are :data:`STALE_AFTER_S` old: another process may be adding a version right now)."""
        if not self.root.is_dir():
            return []
        removed = remove_leftover_temp_files(self.root, min_age_s=STALE_AFTER_S)
        try:
            entries = list(self.root.iterdir())
        except OSError:
            return removed
        for p in entries:
            if p.name.startswith(STAGING_PREFIX) and p.is_dir() and _age_s(p) >= STALE_AFTER_S:
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
            elif VERSION_RE.match(p.name) and p.is_dir():
                removed += remove_leftover_temp_files(p, min_age_s=STALE_AFTER_S)
        return removed

    def versions(self) -> list[VersionRecord]:
        """Every readable version, oldest first; unreadable ones go to ``problems``."""
        self.problems = []
        out = []
        for folder in self._version_folders():
            try:
                out.append(self._read_record(folder))
            except RegistryError as exc:
                self.problems.append((folder, exc.reason))
        return out

    def _version_folders(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if p.is_dir() and VERSION_RE.match(p.name)]
        return sorted(found, key=lambda p: int(p.name[1:]))

    def get(self, version: str) -> VersionRecord:
        """The record of ``version``.

        Raises:
            RegistryError: no such version, or its record is corrupt.
        """
        folder = self.root / version
        if not VERSION_RE.match(version) or not folder.is_dir():
            raise RegistryError(self.root, f"no version {version!r}")
        return self._read_record(folder)

    def _read_record(self, folder: Path) -> VersionRecord:
        path = folder / RECORD_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            names = {f.name for f in fields(VersionRecord)} - {"folder"}
            missing = sorted(names - set(doc) - {"note"})
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            if doc["id"] != folder.name:
                raise ValueError(f"record says {doc['id']!r} but lies in {folder.name}")
            return VersionRecord(**{k: v for k, v in doc.items() if k in names}, folder=folder)
        except FileNotFoundError as exc:
            raise RegistryError(path, "record is missing") from exc
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise RegistryError(path, f"record is corrupt ({exc})") from exc

    def active_id(self) -> str | None:
        """The active version's id, None when none was activated.

        Raises:
            RegistryError: the pointer file is corrupt.
        """
        path = self.root / ACTIVE_FILE
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            version = doc["active"]
            if not isinstance(version, str) or not VERSION_RE.match(version):
                raise ValueError(f"not a version id: {version!r}")
            return version
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RegistryError(
                path, f"active-version pointer is corrupt ({exc}); re-activate a version"
            ) from exc

    def active(self) -> VersionRecord | None:
        """The active version, None when none was activated.

        Raises:
            RegistryError: the pointer is corrupt or names a missing or corrupt version.
        """
        version = self.active_id()
        return self.get(version) if version is not None else None

    def activate(self, version: str) -> VersionRecord:
        """Make ``version`` the active one (also the rollback: re-activate an older version).

        The model file is verified against the record's checksum first; on any error the pointer is unchanged.

        Raises:
            RegistryError: no such version, a corrupt record, or a model file that is missing or changed.
        """
        record = self.get(version)
        try:
            digest = _sha256(record.model_path.read_bytes())
        except OSError as exc:
            raise RegistryError(record.model_path, f"model file unreadable ({exc.strerror or exc})") from exc
        if digest != record.sha256:
            raise RegistryError(
                record.model_path, "model file does not match its record (changed or damaged)"
            )
        previous = self._active_or_none()
        doc = {"active": version, "previous": previous, "activated": now_iso()}
        write_bytes_atomic(self.root / ACTIVE_FILE, (json.dumps(doc, indent=1) + "\n").encode())
        return record

    def _active_or_none(self) -> str | None:
        try:
            return self.active_id()
        except RegistryError:
            return None

    def add(self, model_path: str | Path, *, threshold: float | None = None, metrics: dict | None = None,
            dataset: str | Path = "", note: str = "", device: str = "auto") -> VersionRecord:  # fmt: skip
        """Store a copy of a model file as a new version (not activated).

        The file goes through the loader the inspection uses (every metadata field, every tensor, one probe
        inference on ``device``) before anything is written: a model that cannot be inspected with is refused.

        Args:
            model_path: a draem-inspect model file.
            threshold: raw threshold to store instead of the file's calibrated one (chosen in the wizard).
            metrics: evaluation numbers to keep with the version.
            dataset: the dataset folder it was trained from.
            note: free text.
            device: where the probe inference runs (auto | cpu | cuda | cuda:N).

        Raises:
            ModelFileError: the file is not a usable model file.
            RegistryError: the threshold is outside (0, 1).
        """
        tensors, doc = read_file(model_path, MODEL_FORMAT)
        _, meta = model_from_contents(model_path, tensors, doc, resolve_device(device))  # as predict loads it
        calibration = _with_threshold(dict(meta.calibration or {}), threshold, model_path)
        parent = self._active_or_none()
        self.root.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.root))
        try:
            return self._commit(stage, tensors, doc, meta, calibration, parent, metrics or {}, str(dataset),
                                str(model_path), note)  # fmt: skip
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _commit(self, stage: Path, tensors, doc, meta, calibration, parent, metrics, dataset, source, note):
        for _ in range(100):  # another process may take the same number between our look and our rename
            version = self._next_id()
            doc = {**doc, "calibration": calibration or doc.get("calibration"),
                   "extra": {**(doc.get("extra") or {}), "version": version, "registry_parent": parent}}  # fmt: skip
            data = encode(tensors, doc)
            write_bytes_atomic(stage / MODEL_FILE, data)
            training = {k: v for k, v in meta.training.items() if k not in SCORE_LISTS}
            record = VersionRecord(version, meta.name, now_iso(), parent, _sha256(data), meta.dataset_fingerprint,
                                   dataset, {"model": meta.model.to_dict(), **training}, calibration, metrics,
                                   source, note, self.root / version)  # fmt: skip
            write_bytes_atomic(stage / RECORD_FILE, (json.dumps(record.to_dict(), indent=1) + "\n").encode())
            try:
                os.rename(stage, self.root / version)  # atomic; fails when the folder exists and is not empty
            except OSError:
                continue
            _fsync_dir(self.root)
            return record
        raise RegistryError(self.root, "could not allocate a version number")

    def _next_id(self) -> str:
        numbers = [int(p.name[1:]) for p in self._version_folders()]
        return f"v{max(numbers, default=0) + 1:04d}"


def _with_threshold(calibration: dict, threshold: float | None, path: object) -> dict:
    if threshold is None:
        return calibration
    if not 0.0 < threshold < 1.0:
        raise RegistryError(path, f"threshold {threshold} is not inside (0, 1)")
    if not calibration:
        raise RegistryError(path, "the model has no calibration to change the threshold of")
    was = float(calibration.get("threshold", float("nan")))
    method = f"{calibration.get('method', '')}; set to {threshold:.4f} (calibrated {was:.4f}) by the engineer"
    return {**calibration, "threshold": float(threshold), "method": method.lstrip("; ")}


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
