"""A video file as a frame source (OpenCV ``VideoCapture``), looping, at the file's rate or a set one.

``Frame.source_id`` is ``<path>#<frame index>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.sources.errors import SourceError
from app.sources.paced import PacedSource

DEFAULT_FPS = 25.0  # when the file does not say


@dataclass(frozen=True)
class VideoSourceConfig:
    """Which file and how to play it."""

    path: str  # any container/codec OpenCV's FFmpeg build reads (avi/MJPG, mp4/H.264 ...)
    fps: float | None = None  # frames per second delivered; None: the file's own rate
    loop: bool = True  # start again at the end; False: stop there


class VideoSource(PacedSource):
    """Plays a video file.

    Args:
        config: File, rate and looping.
    """

    def __init__(self, config: VideoSourceConfig) -> None:
        path = Path(config.path)
        if not path.is_file():
            raise SourceError(path, "video file does not exist")
        self.config = config
        self._capture: cv2.VideoCapture | None = None
        self._position = 0
        self._loops = 0
        super().__init__(f"video {path.name}", config.fps or self._file_fps(path))

    @staticmethod
    def _file_fps(path: Path) -> float:
        capture = cv2.VideoCapture(str(path))
        fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
        capture.release()
        return fps if 0 < fps < 1000 else DEFAULT_FPS

    def _open_resource(self) -> None:
        capture = cv2.VideoCapture(str(self.config.path))
        if not capture.isOpened():
            raise SourceError(self.config.path, "cannot open video (corrupt, or a codec OpenCV lacks)")
        ok, _ = capture.read()
        if not ok:
            capture.release()
            raise SourceError(self.config.path, "video holds no readable frame")
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        self._capture, self._position = capture, 0

    def _next_image(self) -> tuple[np.ndarray, str] | None:
        ok, image = self._capture.read()
        if not ok:
            if not self.config.loop:
                return None
            self._loops += 1
            self._close_resource()
            self._open_resource()  # reopening is more reliable than seeking for many codecs
            ok, image = self._capture.read()
            if not ok:
                raise SourceError(self.config.path, "video cannot be read again from the start")
        self._position += 1
        if image.ndim == 3:
            image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        return image, f"{self.config.path}#{self._position - 1}"

    def _close_resource(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _extra(self) -> dict:
        return {"position": self._position, "loops": self._loops}
