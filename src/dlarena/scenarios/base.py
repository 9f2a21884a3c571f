"""A scenario: what one cell measures, and how a request expands into its cells.

Read by the coordinator (the plan, the runner, the reports) and by the worker: it names the
worker-side function that runs it by path ("module:function"), which only the worker
imports, so reading the table imports no worker code. Framework-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlarena.cell import ThreadSettings
from dlarena.contract import Workload

# A cell's options and the threads it runs with: one planned cell of a framework and mode.
CellShape = tuple[dict[str, Any], ThreadSettings]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    headline: str | None  # the metric verdicts compare; None: frameworks are not ranked
    # "module:function" that runs it inside the worker (stdlib and NumPy only there):
    # (implementation, runtime, workload, cell, progress) -> ScenarioResult.
    run: str
    # Batch size the scenario means, whatever the workload's default (latency: 1 request).
    batch_size: int | None = None
    # Samples are timed windows of steady state (their spread says something about noise).
    windowed: bool = True
    # Cell options the plan sweeps (each cell is made once per value), unless given.
    sweep: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    # "module:function" run in the worker after the framework is set up and before the cell's
    # model is built: (runtime, cell, progress) -> None.
    before_build: str | None = None
    # Options of the request that only this scenario reads ("dataset", "epochs").
    takes: tuple[str, ...] = ()
    # Times nothing of a process's start, so its workers may be forked from a fork server
    # that imported the framework once for the round (executors/forkserver.py); the
    # `startup` scenario, which times the import, is measured in fresh processes.
    pre_imported: bool = False

    @property
    def compared(self) -> bool:
        """Verdicts compare frameworks on it, so a run first proves they compute the same."""
        return self.headline is not None

    def options(self, workload: Workload, suite_options: Mapping[str, Any],
                asked: Mapping[str, Any]) -> dict[str, Any]:
        """The options every cell of this scenario on `workload` carries, from the suite's
        options for the workload and the request's values of `takes` (None: not given)."""
        return {}

    def timeout_factor(self, options: Mapping[str, Any]) -> float:
        """A cell's timeout, in multiples of its size's."""
        return 1.0

    def cells(self, framework: str, options: dict[str, Any],
              threads: ThreadSettings) -> list[CellShape]:
        """The cells `framework` runs for one combination of options: none where it cannot
        run this scenario with them."""
        return [(options, threads)]
