"""What scenarios are built from: the framework set up and the model built, the result each
returns, and the batches and the cycling step that the throughput scenarios time (stdlib and
NumPy only, like the rest of the worker side).

Below `scenarios.py`, which lists the scenarios: a scenario written in its own module
(`dataload`, `data_parallel`) imports these from here, not from the list that imports it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import Implementation, Runtime, Workload
from dlarena.worker.timing import TimingResult

# Distinct batches cycled through the timed loop; made on the device before timing starts,
# so data loading is not part of train/infer throughput (it is its own scenario).
BATCH_POOL = 4


@dataclass(frozen=True)
class ScenarioResult:
    # None: the scenario times no first step (devex runs its steps under a debugger probe).
    first_step_seconds: float | None
    # Steady-state windows, for throughput scenarios.
    timing: TimingResult | None = None
    # Other per-event samples (e.g. one latency per request).
    samples: dict[str, list[float]] = field(default_factory=dict)
    extra_metrics: dict[str, float] = field(default_factory=dict)
    # What is not a number: stored with the cell as it is (JSON).
    details: dict[str, Any] = field(default_factory=dict)
    # Settings the scenario chose (a saved format's name, a runtime's version, an input
    # pipeline's settings): the fairness manifest.
    manifest: dict[str, Any] = field(default_factory=dict)


def setup_runtime(cell: CellSpec) -> Runtime:
    """Import and configure the cell's framework; once per process."""
    runtime = registry.runtime_class(cell.framework)()
    runtime.setup(threads=cell.threads, seed=cell.seed, device=cell.device)
    return runtime


def build_implementation(cell: CellSpec, runtime: Runtime) -> Implementation:
    """The cell's model and optimizer, holding the workload's canonical initial weights."""
    workload = registry.workloads()[cell.workload]
    impl = registry.implementation_class(cell.workload, cell.framework)(workload, cell, runtime)
    impl.build()
    impl.set_weights(workload.initial_weights(cell.size, cell.seed))
    return impl


def device_batches(impl: Implementation, workload: Workload, cell: CellSpec) -> list[Any]:
    rng = np.random.default_rng(cell.seed + 1)
    return [
        impl.to_device(*workload.synthetic_batch(rng, cell.batch_size, cell.size))
        for _ in range(BATCH_POOL)
    ]


def cycling(step: Callable[[Any], Any], batches: list[Any]) -> Callable[[], Any]:
    """The zero-argument step that the timing loop calls: the next batch, one step."""
    pool = itertools.cycle(batches)
    return lambda: step(next(pool))
