"""What a cell measures, run inside the worker (stdlib and NumPy only).

A scenario gets a built implementation and returns its figures; adding one is a new
entry in SCENARIOS (its headline metric must be in `metrics.METRICS`).
"""

from __future__ import annotations

import itertools
import time
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
# A latency measurement keeps at least this many requests, however short the budget.
MIN_REQUESTS = 50


@dataclass(frozen=True)
class ScenarioResult:
    first_step_seconds: float
    # Steady-state windows, for throughput scenarios.
    timing: TimingResult | None = None
    # Other per-event samples (e.g. one latency per request).
    samples: dict[str, list[float]] = field(default_factory=dict)
    extra_metrics: dict[str, float] = field(default_factory=dict)


Run = Callable[[Implementation, Runtime, Workload, CellSpec, Progress], ScenarioResult]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    headline: str  # the metric verdicts compare
    run: Run
    # Batch size the scenario means, whatever the workload's default (latency: 1 request).
    batch_size: int | None = None
    # Samples are timed windows of steady state (their spread says something about noise).
    windowed: bool = True


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


def _throughput(training: bool) -> Run:
    def run(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
            progress: Progress) -> ScenarioResult:
        impl.prepare(training=training)
        step = impl.train_step if training else impl.infer_step
        timing = measure(cycling(step, device_batches(impl, workload, cell)), runtime.sync,
                         cell.measure, progress=progress)
        return ScenarioResult(timing.first_step_seconds, timing,
                              extra_metrics=impl.compilation_stats())
    return run


def run_latency(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """Requests one at a time, each synchronised: the latency a caller waits for."""
    impl.prepare(training=False)
    request = cycling(impl.infer_step, device_batches(impl, workload, cell))
    clock = time.perf_counter

    def one() -> float:
        start = clock()
        runtime.sync(request())
        return clock() - start

    first = one()
    settings = cell.measure
    progress("warmup", 0, 1)
    warmup_end = clock() + settings.max_warmup_windows * settings.min_window_seconds
    while clock() < warmup_end:
        one()
    budget = settings.windows * settings.min_window_seconds
    progress("measure", 0, 1)
    latencies: list[float] = []
    end = clock() + budget
    while clock() < end or len(latencies) < MIN_REQUESTS:
        latencies.append(one())
    progress("measure", 1, 1)
    return ScenarioResult(first, samples={"latency_seconds": latencies},
                          extra_metrics=impl.compilation_stats())


def run_startup(
    impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec, progress: Progress
) -> ScenarioResult:
    """One training step on a fresh model: with import and build, the time to a first result."""
    impl.prepare(training=True)
    batch = device_batches(impl, workload, cell)[0]
    start = time.perf_counter()
    runtime.sync(impl.train_step(batch))
    return ScenarioResult(time.perf_counter() - start, extra_metrics=impl.compilation_stats())


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario for scenario in (
        Scenario("train", "samples/s of full optimizer steps (forward, backward, update)",
                 "train_throughput", _throughput(training=True)),
        Scenario("infer", "samples/s of forward passes in inference mode, no gradients",
                 "infer_throughput", _throughput(training=False)),
        Scenario("latency", "per-request latency of batch-1 inference after warm-up",
                 "latency_seconds", run_latency, batch_size=1, windowed=False),
        Scenario("startup", "import, build, first training step: time to a first result",
                 "time_to_first_result_seconds", run_startup, windowed=False),
    )
}
