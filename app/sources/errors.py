"""The frame-source error: every source (camera, folder, video, demo line) raises it with the thing and the reason."""

from __future__ import annotations

from draem_core.errors import DraemError


class SourceError(DraemError):
    """A frame source could not be found, opened, configured or read.

    Attributes:
        device: The source spec, folder, file, serial number or producer concerned.
        reason: What went wrong, in words a user can act on.
    """

    def __init__(self, device: object, reason: str, *, kind: str = "source") -> None:
        self.device = str(device)
        self.reason = reason
        super().__init__(f"{kind} {self.device}: {reason}" if self.device else f"{kind}: {reason}")
