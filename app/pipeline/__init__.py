"""The Qt-free inspection pipeline (used by the GUI and by the packaged app's self-test)."""

from app.pipeline.pipeline import InspectionPipeline, PipelineConfig
from app.pipeline.record import InspectionRecord, LiveResult, model_identity
from app.pipeline.stats import PipelineStats

__all__ = [
    "InspectionPipeline",
    "InspectionRecord",
    "LiveResult",
    "PipelineConfig",
    "PipelineStats",
    "model_identity",
]
