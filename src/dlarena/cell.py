"""The cell: one (workload, framework, mode, scenario, size, device, batch size, precision).

These types cross the process boundary as JSON, so this module uses the standard library
only: the worker may run in an interpreter that has nothing but NumPy and the framework.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

PROTOCOL_VERSION = 1
# A fork server's control socket (executors/forkserver.py, worker/forkserver.py): the variable
# naming its inherited descriptor, and the largest message either side sends.
FORKSERVER_FD_VARIABLE = "DLARENA_FORKSERVER_FD"
FORKSERVER_MESSAGE_BYTES = 1 << 16
# Set ("1") in a worker forked from a fork server: its framework was imported before it.
FORKED_VARIABLE = "DLARENA_FORKED"
# What a worker does with a cell: time it, collect parity evidence into an artifacts file (or,
# "checks", for each cell of a JSON list that the artifacts path names, in one process), or
# (a deployment cell's children) load a saved model in a fresh process, or serve the model.
TASKS = ("measure", "check", "checks", "load", "serve")
# How a cell's worker process ended: measured; failed (an exception, outputs that differ, a
# crash: the error says why); or unsupported, a recorded outcome that is no failure: the
# framework cannot do what the cell asks here, and the error holds its reason
# (`contract.ExportUnsupported`).
OK, ERROR, UNSUPPORTED = "ok", "error", "unsupported"
STATUSES = (OK, ERROR, UNSUPPORTED)


@dataclass(frozen=True)
class ThreadSettings:
    """Thread counts given identically to every framework (environment and API)."""

    intra_op: int
    inter_op: int

    def __post_init__(self) -> None:
        if self.intra_op < 1 or self.inter_op < 1:
            raise ValueError(f"thread counts must be >= 1, got {self}")

    def environment(self) -> dict[str, str]:
        """Variables read at import time by the numerical libraries under every framework
        (a framework's own thread variables are in its INFO)."""
        intra = str(self.intra_op)
        return {"OMP_NUM_THREADS": intra, "MKL_NUM_THREADS": intra, "OPENBLAS_NUM_THREADS": intra}


@dataclass(frozen=True)
class MeasureSettings:
    """How a cell is timed: calibrated windows of at least ``min_window_seconds`` each."""

    min_window_seconds: float
    windows: int
    max_warmup_windows: int
    # Warm-up ends when the last `settle_windows` windows differ by at most this fraction.
    # Two: over 695 stored processes the warm-up windows after calibration were at the timed
    # windows' median per step (-0.1%, -0.1%, +0.4% for the first three), so a third window
    # bought nothing (docs/methodology.md).
    settle_tolerance: float = 0.10
    settle_windows: int = 2
    # Steps of the first calibration window. A cell's later worker processes start from the
    # steps per window its first process calibrated (the runner), so they calibrate once,
    # not every round; a window still grows if it is too short. Not part of the cell's
    # identity (`CellSpec.key`): it says how to reach the same windows faster.
    start_steps: int = 1

    def __post_init__(self) -> None:
        if self.start_steps < 1:
            raise ValueError("start_steps must be >= 1")
        if self.min_window_seconds <= 0:
            raise ValueError("min_window_seconds must be > 0")
        if self.windows < 1:
            raise ValueError("windows must be >= 1")
        if self.max_warmup_windows < 0:
            raise ValueError("max_warmup_windows must be >= 0")


# Cell precision -> the floating dtype of weights and inputs, by the name PyTorch, TensorFlow
# and NumPy all use. Cells are timed in fp32; same-model checks run in fp64.
DTYPES = {"fp32": "float32", "fp64": "float64"}
# The precision every timed cell runs in; the same-model check audits that this path
# really computes at this precision (parity/probe.py).
TIMED_PRECISION = "fp32"


@dataclass(frozen=True)
class CellSpec:
    """Everything a worker needs to measure one cell; its identity is `key`."""

    workload: str
    framework: str
    mode: str
    scenario: str
    size: str
    device: str
    batch_size: int
    precision: str
    threads: ThreadSettings
    measure: MeasureSettings
    seed: int = 0
    timeout_seconds: float = 600.0
    # Free-form knobs for later scenarios; part of the identity.
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {self.batch_size}")
        if self.precision not in DTYPES:
            raise ValueError(f"unknown precision {self.precision!r}; valid: {', '.join(DTYPES)}")

    @property
    def dtype(self) -> str:
        """The floating dtype's name ("float32"), as every framework spells it."""
        return DTYPES[self.precision]

    @property
    def key(self) -> str:
        """Stable identity: same key = same measurement, so a resumed run can skip it."""
        identity = asdict(self)
        identity.pop("timeout_seconds")
        identity["measure"].pop("start_steps")
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.workload} · {self.framework}/{self.mode} · {self.scenario} · {self.size}"

    def to_json(self) -> str:
        return json.dumps({"protocol": PROTOCOL_VERSION, "cell": asdict(self)}, sort_keys=True,
                          allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellSpec:
        data = dict(data)
        data["threads"] = ThreadSettings(**data["threads"])
        data["measure"] = MeasureSettings(**data["measure"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> CellSpec:
        document = json.loads(text)
        if document.get("protocol") != PROTOCOL_VERSION:
            raise ValueError(
                f"cell protocol {document.get('protocol')!r} != worker's {PROTOCOL_VERSION}"
            )
        return cls.from_dict(document["cell"])


def worker_request(cell: CellSpec, *, task: str = "measure", artifacts: str | None = None,
                   process: int = 0) -> str:
    """The JSON document a worker reads on stdin; `process` offsets the seed (a replicate)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    return json.dumps({"protocol": PROTOCOL_VERSION, "task": task, "artifacts": artifacts,
                       "process": process, "cell": asdict(cell)}, allow_nan=False)


def parse_worker_request(text: str) -> tuple[CellSpec, str, str | None, int]:
    document = json.loads(text)
    if document.get("protocol") != PROTOCOL_VERSION:
        raise ValueError(
            f"request protocol {document.get('protocol')!r} != worker's {PROTOCOL_VERSION}"
        )
    task = document.get("task", "measure")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    return (CellSpec.from_dict(document["cell"]), task, document.get("artifacts"),
            int(document.get("process", 0)))
