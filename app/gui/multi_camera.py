"""The window's side of a station with several cameras: the tiles, the camera the Inspection controls edit,
the part verdict in the big tile, and counters over all cameras.

With one camera nothing here changes the window: :meth:`MultiCamera.refresh` and :meth:`MultiCamera.show_stats`
leave the one-camera drawing to the window, as it always was.
"""

from __future__ import annotations

from app.gui.camera_tiles import CameraTiles, combined_stats, combined_verdict, part_stats
from app.gui.live_view import LiveView
from app.pipeline import PipelineStats
from app.state import AppState
from app.station import AcquisitionMode


class MultiCamera:
    """Follows the station's cameras for a :class:`~app.gui.main_window.MainWindow` (the GUI thread only)."""

    def __init__(self, window) -> None:
        self.window = window
        self.selected = 0  # the camera the Inspection controls edit
        self.names: list[str] = []  # the cameras' names in records
        self.labels: dict[str, str] = {}  # record name -> what the operator reads (the source's name)

    @property
    def tiles(self) -> CameraTiles | None:
        return self.window.board.tiles

    @property
    def several(self) -> bool:
        return len(self.names) > 1

    def view(self, camera: int | None = None) -> LiveView:
        """The live view of a camera (default: the chosen one)."""
        return self.window.board.view_of(self.selected if camera is None else camera)

    def sources_changed(self, names: list[str], labels: list[str]) -> None:
        """The station connected other cameras (their names in records, and for the operator): tiles (several) or
        the single view, each with its settings."""
        w = self.window
        if names == self.names and (self.tiles is not None) == (len(names) > 1):
            return
        self.names, self.labels = list(names), dict(zip(names, labels, strict=True))
        self.selected = min(self.selected, max(0, len(names) - 1))
        tiles = w.board.show_cameras([f"camera {i + 1} · {label}" for i, label in enumerate(labels)])
        w.controls.show_cameras(labels, self.selected)
        for index, view in enumerate(tiles.views if tiles is not None else []):
            if index == 0:
                continue  # the main view: wired and set up by the window
            view.roiChanged.connect(lambda roi, i=index: w.roi_moved(roi, i))
            view.set_overlay(w.settings.overlay(index))
            view.set_roi_editable(not w.modes.operator)
            if w.settings.roi_enabled(index):
                view.set_roi_enabled(True, w.settings.roi(index))
        if tiles is not None:
            tiles.set_selected(self.selected)

    def edit_station(self) -> object:
        """Choose the station's cameras and their models (a dialog; connects and loads when accepted)."""
        from app.gui.station_dialog import StationDialog

        w = self.window
        combo = w.camera_panel.combo
        known = [(combo.itemText(i), combo.itemData(i)) for i in range(combo.count())
                 if isinstance(combo.itemData(i), str) and not combo.itemData(i).startswith("<")]  # fmt: skip
        specs = list(w.station.specs) or w.settings.station_specs()
        own = w.station.setup().cameras if w.station.specs else ()
        dialog = StationDialog(known, specs, [c.model for c in own], w)
        dialog.accepted.connect(lambda: self._station_chosen(dialog.chosen()))
        dialog.open()
        return dialog

    def _station_chosen(self, chosen: list[tuple[str, str]]) -> None:
        """Connect the chosen sources (closing the running ones first) and load the cameras' own models."""
        w = self.window
        for camera, (_, model) in enumerate(chosen):
            if model:
                w.station.load_model(model, camera=camera)
            elif camera:
                w.station.forget_model(camera)
                w.settings.set_model_path(None, camera)
        if not w.station.machine.enabled("connect"):
            w.station.disconnect_source()
        w.connect_source([spec for spec, _ in chosen])

    def choose(self, camera: int) -> None:
        """Edit another camera: the controls show its threshold, region and overlay; the trend its scores."""
        w = self.window
        self.selected = camera
        if self.tiles is not None:
            self.tiles.set_selected(camera)
        w.controls.set_overlay(w.settings.overlay(camera))
        w.controls.set_roi_enabled(self.view().roi_enabled)
        w.show_model_of(camera)

    def refresh(self) -> bool:
        """Several cameras: draw every tile, the part (or all cameras') verdict large, the chosen camera's scores in
        the trend; False with one camera (the window draws it)."""
        tiles, station = self.tiles, self.window.station
        if tiles is None:
            return False
        drawn = tiles.refresh([station.latest(i) for i in range(len(tiles.tiles))])
        inspecting = station.state == AppState.INSPECTING
        chosen = tiles.tiles[self.selected].record if self.selected < len(tiles.tiles) else None
        if inspecting and chosen is not None and chosen.score is not None and drawn[self.selected]:
            self.window.board.trend.add(chosen.score, chosen.rejected)
        if inspecting:
            self._show_verdict(tiles, any(drawn))
        return True

    def _show_verdict(self, tiles: CameraTiles, drawn: bool) -> None:
        station, verdict = self.window.station, self.window.board.verdict
        if station.mode != AcquisitionMode.FREE_RUN:
            part = tiles.new_part(station.parts.latest())
            if part is not None:
                name = part.part_id or (f"#{part.trigger}" if part.trigger else "(hardware trigger)")
                verdict.show_cameras(part.verdict, f"part {name}", self._verdicts(part.cameras))
        elif drawn and tiles.newest_records():
            records = tiles.newest_records()
            verdict.show_cameras(combined_verdict(records), "all cameras, newest frames", self._verdicts(records))

    def _verdicts(self, records) -> list[tuple[str, str]]:
        return [(self.labels.get(r.camera, r.camera), r.verdict) for r in records]

    def show_stats(self, first: PipelineStats | None) -> PipelineStats | None:
        """The counters and statistics the window shows: camera 0's with one camera; with several, the cameras'
        together (parts, in the triggered modes), and each camera's state in its tile."""
        station, tiles = self.window.station, self.tiles
        if tiles is None or first is None:
            return first
        stats = station.camera_stats()
        tiles.show_health(station.camera_health(), stats)
        total = combined_stats(stats)
        if station.mode != AcquisitionMode.FREE_RUN and total is not None:
            counts = station.parts.counts()
            return part_stats(total, counts.parts, counts.ng, counts.not_judged)
        return total
