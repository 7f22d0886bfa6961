"""Versions: the software and the model-file format it writes and reads."""

__version__ = "0.1.0"
MODEL_FORMAT = "draem-inspect/model"
CHECKPOINT_FORMAT = "draem-inspect/checkpoint"
FORMAT_VERSION = 2  # bump when the file layout changes; readers refuse newer files with a clear message
# 2: optional inspection region ("roi") in the model metadata; older readers would inspect the whole frame
