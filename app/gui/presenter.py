"""How the station's state shows: the verdict tile when there is no verdict, and the banner over the view.

The texts come from :mod:`app.station.health` (shared with the headless runner); this module only paints.
"""

from __future__ import annotations

from app.gui.layout import StationLayout
from app.station import Station
from app.station.health import idle_verdict


def show_idle_verdict(board: StationLayout, station: Station) -> None:
    """Outside INSPECTING the verdict tile says why there is no verdict."""
    message = idle_verdict(station.state, station.inspector is not None)
    if message is not None:
        board.verdict.show_message(*message)


def show_banner(board: StationLayout, station: Station) -> None:
    """The most urgent condition over the live view (nothing when all is well)."""
    board.show_banner(*station.banner())
