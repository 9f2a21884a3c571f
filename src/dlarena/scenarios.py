"""What a cell measures, run inside the worker (stdlib and NumPy only).

A scenario gets a built implementation and returns its figures; adding one is a new
entry in SCENARIOS.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlarena.cell import CellSpec
from dlarena.frameworks.base import Runtime
from dlarena.measure.timing import Progress, TimingResult, measure
from dlarena.workloads.base import Implementation, Workload

# Distinct batches cycled through the timed loop; made on the device before timing starts,
# so data loading is not part of train/infer throughput (it is its own scenario).
BATCH_POOL = 4


@dataclass(frozen=True)
class ScenarioResult:
    timing: TimingResult
    throughput_metric: str
    extra_metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Callable[[Implementation, Runtime, Workload, CellSpec, Progress], ScenarioResult]


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


def _timed(
    step: Callable[[Any], Any],
    batches: list[Any],
    runtime: Runtime,
    cell: CellSpec,
    progress: Progress,
) -> TimingResult:
    return measure(cycling(step, batches), runtime.sync, cell.measure, progress=progress)


def run_train(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    impl.prepare(training=True)
    timing = _timed(impl.train_step, device_batches(impl, workload, cell), runtime, cell, progress)
    return ScenarioResult(timing, "train_throughput")


def run_infer(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    impl.prepare(training=False)
    timing = _timed(impl.infer_step, device_batches(impl, workload, cell), runtime, cell, progress)
    return ScenarioResult(timing, "infer_throughput")


SCENARIOS: dict[str, Scenario] = {
    "train": Scenario("train", "samples/s of full optimizer steps (forward, backward, update)",
                      run_train),
    "infer": Scenario("infer", "samples/s of forward passes in inference mode, no gradients",
                      run_infer),
}
