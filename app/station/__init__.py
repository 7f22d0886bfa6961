"""The Qt-free inspection station: cameras, pipelines, sinks, outputs, models, triggers, part verdicts and health."""

from app.station.camera import Camera
from app.station.jobs import JobRunner, ThreadJobs
from app.station.modes import AcquisitionMode
from app.station.setup import CameraSetup, StationSetup
from app.station.station import Station, StationConfig, StationError

__all__ = ["AcquisitionMode", "Camera", "CameraSetup", "JobRunner", "Station", "StationConfig", "StationError",
           "StationSetup", "ThreadJobs"]  # fmt: skip
