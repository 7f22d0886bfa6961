"""The backend cache: graphs derived from each network, and one JSON file recording validations and choices.

Layout under the cache folder (the app passes ``app.paths.data_home() / "backends"``)::

    records.json                   {"format": 1, "validations": {key: {...}}, "choices": {key: {...}}}
    <network key>/map.onnx         fp32 map graph;  map-int8-<frames key>.onnx  its INT8 quantisation
    <network key>/openvino-*/      OpenVINO IR (model.xml + model.bin) and its compiled-model cache

Keys name what a result depends on: the network (config and weights, the graph code, torch's version), the
runtime versions and the CPU. Every file is written to a temporary name and renamed. The records are a cache:
an unreadable file counts as empty and is rewritten, and two processes writing at once may lose one entry,
which is then measured again.
"""

from __future__ import annotations

import hashlib
import json
import platform
import tempfile
import threading
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from draem_core.imageio import write_bytes_atomic
from draem_core.model import DraemModel

GRAPH_VERSION = 1  # bump when the exported graph changes meaning (inputs, outputs, post-processing)
RECORDS_FORMAT = 1
_LOCK = threading.Lock()


def network_key(model: DraemModel) -> str:
    """sha256 over the architecture, the fp32 weights, :data:`GRAPH_VERSION` and torch's version.

    The weights, not the file: a recalibrated copy of a model (same weights, new threshold) shares its graphs.
    """
    h = hashlib.sha256(json.dumps([model.config.to_dict(), GRAPH_VERSION, torch.__version__]).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def frames_key(inputs: np.ndarray) -> str:
    """sha256 of the good images an INT8 graph was calibrated on, or a reduced precision validated on."""
    return hashlib.sha256(np.ascontiguousarray(inputs, np.float32).tobytes()).hexdigest()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int) -> dict:
    """What measurements and validations depend on besides the network."""
    versions = {p: package_version(p) for p in ("onnx", "onnxruntime", "openvino")}
    return {"torch": torch.__version__, **versions, "cpu": cpu_name(), "threads": threads}


class BackendStore:
    """Derived graphs and records under ``root`` (a temporary folder, removed with this object, when None)."""

    def __init__(self, root: Path | None) -> None:
        self._tmp = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="draem-backends-")
            root = Path(self._tmp.name)
        self.root = Path(root)

    def path(self, net_key: str, name: str) -> Path:
        """Where the derived file ``name`` of a network lives (its folder is created)."""
        folder = self.root / net_key[:24]
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def get(self, section: str, key: str) -> dict | None:
        with _LOCK:
            return self._read().get(section, {}).get(key)

    def put(self, section: str, key: str, value: dict) -> None:
        with _LOCK:
            doc = self._read()
            doc.setdefault(section, {})[key] = value
            doc["format"] = RECORDS_FORMAT
            write_bytes_atomic(self.root / "records.json", (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode())

    def _read(self) -> dict:
        try:
            doc = json.loads((self.root / "records.json").read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(doc, dict) or doc.get("format") != RECORDS_FORMAT:
            return {}
        return doc
