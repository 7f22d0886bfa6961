"""An image folder as a frame source: files in name order, looping, at a set rate.

Unreadable files are skipped and counted (``SourceStats.extra['unreadable']``), never fatal.
``Frame.source_id`` is the path of the file the frame came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.sources.errors import SourceError
from app.sources.paced import PacedSource
from draem_core.errors import ImageReadError, shown
from draem_core.imageio import list_images, read_image


@dataclass(frozen=True)
class FolderSourceConfig:
    """Where the images are and how fast to play them."""

    path: str  # folder holding jpg/png/bmp/tif images
    fps: float = 5.0  # frames per second delivered
    loop: bool = True  # start again after the last image; False: stop there
    recursive: bool = True  # include sub-folders


class FolderSource(PacedSource):
    """Plays the images of a folder.

    Args:
        config: Folder, rate and looping.
    """

    def __init__(self, config: FolderSourceConfig) -> None:
        super().__init__(f"folder {config.path}", config.fps)
        self.config = config
        self._files: list[Path] = []
        self._index = 0
        self._unreadable: dict[str, str] = {}

    def _open_resource(self) -> None:
        folder = Path(self.config.path)
        if not folder.is_dir():
            raise SourceError(folder, "image folder does not exist")
        self._files = list_images(folder, recursive=self.config.recursive)
        if not self._files:
            raise SourceError(folder, "folder holds no images (.jpg, .jpeg, .png, .bmp, .tif, .tiff)")
        self._index = 0

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        for _ in range(len(self._files)):
            if self._index >= len(self._files):
                if not self.config.loop:
                    return None
                self._index = 0
            path = self._files[self._index]
            self._index += 1
            try:
                return read_image(path), shown(path)  # escaped: a non-UTF-8 name must not break the trace
            except ImageReadError as exc:
                self._unreadable[shown(path)] = exc.reason
        raise SourceError(self.config.path, "none of the images in the folder can be read")

    def _extra(self) -> dict:
        last = next(reversed(self._unreadable.items()), None)
        return {
            "files": len(self._files),
            "position": self._index,
            "unreadable": len(self._unreadable),
            "last_unreadable": f"{last[0]}: {last[1]}" if last else "",
        }
