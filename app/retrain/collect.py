"""Collecting good images: a named dataset folder with a manifest, capture, auto-capture and import.

Layout of a dataset folder::

    <name>/manifest.json     what each image is: source, camera settings, capture time, marks
    <name>/00001.png         captured frames (lossless)
    <name>/00002_<stem>.jpg  imported files, bytes unchanged

Every write is atomic (temp file + rename), the manifest last, so a crash leaves at worst an image the
manifest does not list. Near-duplicate frames (a part that did not move between two captures) are flagged,
not dropped: the engineer decides on the Review page. Nothing here touches Qt; long work is a generator
that can stop (house style §7) and runs off the GUI thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from app.sources.base import Frame
from draem_core.errors import DatasetError, ImageReadError
from draem_core.imageio import list_images, read_image, to_uint8_rgb, write_bytes_atomic, write_image_atomic

MANIFEST = "manifest.json"
FORMAT = "draem-inspect-dataset"
FORMAT_VERSION = 1
MARKS = ("good", "defective", "deleted")  # what the engineer said about an image on the Review page


@dataclass(frozen=True)
class DuplicateConfig:
    """When two frames count as near-duplicates."""

    side: int = 32  # frames are compared as side x side grayscale, brightness offset removed
    max_mean_diff: float = 0.75  # mean absolute grey-level difference (0..255) at or below which = duplicate


@dataclass(frozen=True)
class ImageEntry:
    """One image of a dataset, as the manifest lists it."""

    file: str  # file name inside the dataset folder
    captured: str  # ISO 8601 UTC time it was captured or imported
    source: str  # camera serial / source name, or "import:<original path>"
    camera_settings: dict = field(default_factory=dict)  # camera features at capture time ({} if unknown)
    frame_id: int | None = None  # the source's frame id (None for imports)
    near_duplicate_of: str | None = None  # file name of an earlier image this one nearly repeats
    mark: str = "good"  # one of MARKS


def signature(image: np.ndarray, side: int = DuplicateConfig.side) -> np.ndarray:
    """``(side, side)`` float32 grayscale thumbnail with its mean removed (brightness-invariant)."""
    gray = cv2.cvtColor(to_uint8_rgb(image), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    return small - small.mean()


class Dataset:
    """A dataset folder and its manifest. Not thread-safe: one worker writes at a time."""

    def __init__(self, folder: Path, doc: dict, duplicates: DuplicateConfig | None = None) -> None:
        self.folder = folder
        self.name = str(doc.get("name") or folder.name)
        self.created = str(doc.get("created", ""))
        self.entries = [ImageEntry(**e) for e in doc.get("images", [])]
        self.duplicates = duplicates or DuplicateConfig()
        self._signatures: dict[str, np.ndarray] | None = None  # built lazily (reads every image)

    @classmethod
    def create(cls, folder: str | Path, duplicates: DuplicateConfig | None = None) -> Dataset:
        """Start an empty dataset in ``folder`` (created), or open it when it already has a manifest."""
        folder = Path(folder)
        if (folder / MANIFEST).is_file():
            return cls.open(folder, duplicates)
        if folder.is_dir() and list_images(folder, recursive=False):
            raise DatasetError(
                folder, "holds images but no manifest.json; import it into a new dataset instead"
            )
        dataset = cls(folder, {"name": folder.name, "created": _now()}, duplicates)
        dataset.save()
        return dataset

    @classmethod
    def open(cls, folder: str | Path, duplicates: DuplicateConfig | None = None) -> Dataset:
        """Open an existing dataset.

        Raises:
            DatasetError: no folder, no manifest, or a manifest that is not valid JSON of this format.
        """
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise DatasetError(folder, "not a dataset folder (no manifest.json)")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT:
                raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
            return cls(folder, doc, duplicates)
        except (ValueError, TypeError, AttributeError) as exc:
            raise DatasetError(path, f"manifest is unreadable ({exc})") from exc

    def path(self, entry: ImageEntry) -> Path:
        """Where the image of ``entry`` lies."""
        return self.folder / entry.file

    @property
    def paths(self) -> list[Path]:
        """Every image of the dataset, in capture order."""
        return [self.path(e) for e in self.entries]

    def marked(self, mark: str) -> set[Path]:
        """Paths of the images carrying ``mark``."""
        return {self.path(e) for e in self.entries if e.mark == mark}

    def save(self) -> None:
        """Write the manifest atomically."""
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name, "created": self.created,
               "images": [asdict(e) for e in self.entries]}  # fmt: skip
        write_bytes_atomic(self.folder / MANIFEST, (json.dumps(doc, indent=1) + "\n").encode())

    def set_marks(self, defective: set[Path], deleted: set[Path]) -> None:
        """Record the Review page's marks in the manifest (deleted wins over defective)."""

        def mark(p: Path) -> str:
            return "deleted" if p in deleted else "defective" if p in defective else "good"

        self.entries = [replace(e, mark=mark(self.path(e))) for e in self.entries]
        self.save()

    def add_frame(self, image: np.ndarray, *, source: str = "", camera_settings: dict | None = None,
                  frame_id: int | None = None) -> ImageEntry:  # fmt: skip
        """Store a captured frame as PNG and list it (near-duplicates flagged)."""
        file = f"{self._next_number():05d}.png"
        write_image_atomic(self.folder / file, image)
        return self._append(ImageEntry(file, _now(), source, dict(camera_settings or {}), frame_id), image)

    def import_file(self, path: Path) -> ImageEntry:
        """Copy one image file into the dataset unchanged.

        Raises:
            ImageReadError: the file cannot be read or decoded (nothing is copied).
        """
        image = read_image(path)
        file = f"{self._next_number():05d}_{path.stem[:60]}{path.suffix.lower()}"
        write_bytes_atomic(self.folder / file, path.read_bytes())
        return self._append(ImageEntry(file, _now(), f"import:{path}"), image)

    def _append(self, entry: ImageEntry, image: np.ndarray) -> ImageEntry:
        sig = signature(image, self.duplicates.side)
        entry = replace(entry, near_duplicate_of=self._duplicate_of(sig))
        self.entries.append(entry)
        self.signatures()[entry.file] = sig
        self.save()
        return entry

    def _next_number(self) -> int:
        numbers = [int(e.file[:5]) for e in self.entries if e.file[:5].isdigit()]
        return max(numbers, default=0) + 1

    def signatures(self) -> dict[str, np.ndarray]:
        """Duplicate signatures of all readable images (read from disk once)."""
        if self._signatures is None:
            self._signatures = {}
            for e in self.entries:
                try:
                    self._signatures[e.file] = signature(read_image(self.path(e)), self.duplicates.side)
                except ImageReadError:
                    continue  # a missing image is reported where it is used (review, training)
        return self._signatures

    def _duplicate_of(self, sig: np.ndarray) -> str | None:
        known = self.signatures()
        if not known:
            return None
        names = list(known)
        diffs = np.abs(np.stack([known[n] for n in names]) - sig[None]).mean(axis=(1, 2))
        best = int(np.argmin(diffs))
        return names[best] if diffs[best] <= self.duplicates.max_mean_diff else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def frame_image(frame: Frame | np.ndarray) -> np.ndarray:
    """The pixels of a Frame (or an array passed as is)."""
    return frame.image if isinstance(frame, Frame) else np.asarray(frame)


def import_folder(dataset: Dataset, folder: str | Path, should_stop: Callable[[], bool] = lambda: False
                  ) -> Iterator[tuple[int, int, ImageEntry | None, str]]:  # fmt: skip
    """Import every image under ``folder``; yields ``(done, total, entry or None, problem)`` per file.

    Raises:
        DatasetError: the folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(folder, "folder not found")
    paths = list_images(folder)
    if not paths:
        raise DatasetError(folder, "no images (jpg, png, bmp, tif) found")
    for i, path in enumerate(paths, 1):
        if should_stop():
            return
        try:
            yield i, len(paths), dataset.import_file(path), ""
        except ImageReadError as exc:
            yield i, len(paths), None, str(exc)
