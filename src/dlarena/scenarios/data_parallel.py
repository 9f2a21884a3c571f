"""Data-parallel training: one cell per number of ranks, each rank its share of the threads,
for the frameworks that can join a process group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.isolation import netns
from dlarena.scenarios.base import CellShape, Scenario

RANKS_OPTION = "ranks"
RANKS = (1, 2)
# Which of data parallel's two steps a cell's ranks took, stated in its manifest under
# BATCHNORM_KEY (worker/data_parallel.py) and compared by the reports: BatchNorm statistics
# per rank, or of the global batch; without BatchNorm the two steps are one.
BATCHNORM_KEY = "data_parallel_batchnorm_statistics"
PER_RANK = "per rank"
GLOBAL_BATCH = "of the global batch"
SAME_STEP = "no difference (no BatchNorm)"


def framework_options(framework: str) -> dict[str, Any]:
    """Options every data-parallel cell of `framework` carries: a private network namespace
    (isolation/netns.py) for one whose ranks listen on every interface."""
    listens = registry.frameworks()[framework].listens_on_every_interface
    return {netns.OPTION: True} if listens else {}


def rank_threads(threads: ThreadSettings, world: int) -> ThreadSettings:
    """Each rank's share of the machine: N ranks split the threads one process would use."""
    return ThreadSettings(max(1, threads.intra_op // world), max(1, threads.inter_op // world))


@dataclass(frozen=True)
class DataParallel(Scenario):
    def cells(self, framework: str, options: dict[str, Any],
              threads: ThreadSettings) -> list[CellShape]:
        if not registry.frameworks()[framework].data_parallel:
            return []
        return [({**options, RANKS_OPTION: ranks, **framework_options(framework)},
                 rank_threads(threads, ranks)) for ranks in RANKS]
