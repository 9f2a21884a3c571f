"""The data scenarios, fed by a framework's own input pipeline: their cell options, which
frameworks can run them, and what "input-bound" means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.scenarios.base import CellShape, Scenario

# Cell options of the data scenarios, and the values the plan sweeps when none is given.
WORKERS_OPTION = "loader_workers"
FORMAT_OPTION = "file_format"
AUGMENT_OPTION = "augment"
DELAY_OPTION = "decode_delay_seconds"  # planted slowness, for tests
LOADER_WORKERS = (0, 1, 2)
# Files deliver less than this fraction of the in-memory step rate: the job is input-bound.
INPUT_BOUND_RATIO = 0.9


BOUND, KEEPS_UP, UNDECIDED = "input-bound", "keeps up", "undecided"


def input_bound(files_rate: float, memory_rate: float) -> bool:
    """The verdict: the step rate fed from files is below INPUT_BOUND_RATIO x in memory."""
    return files_rate < INPUT_BOUND_RATIO * memory_rate


def input_bound_verdict(interval: tuple[float, float] | None, ratio: float) -> str:
    """From files / in memory with its interval: BOUND when the interval lies below
    INPUT_BOUND_RATIO, KEEPS_UP when at or above it, else UNDECIDED (no interval: the ratio
    alone decides)."""
    low, high = interval or (ratio, ratio)
    if high < INPUT_BOUND_RATIO:
        return BOUND
    if low >= INPUT_BOUND_RATIO:
        return KEEPS_UP
    return UNDECIDED


@dataclass(frozen=True)
class FedByPipeline(Scenario):
    """Only frameworks with an input pipeline that reads the file format asked for run it."""

    def cells(self, framework: str, options: dict[str, Any],
              threads: ThreadSettings) -> list[CellShape]:
        formats = registry.pipeline_formats(framework)
        if not formats or options.get(FORMAT_OPTION, formats[0]) not in formats:
            return []
        return [(options, threads)]
