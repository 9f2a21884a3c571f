"""A cell for bench scripts, built as a worker builds it (imported by scripts run as
`python bench/NAME.py`, whose folder is then on the import path)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from dlarena.engine.environment import available_cpus

Step = Callable[[], Any]
Sync = Callable[[Any], None]


def bench_cell(framework: str, workload: str, *, size: str = "cpu", scenario: str = "train",
               measure: MeasureSettings | None = None) -> CellSpec:
    """The cell a run would measure: the framework's default mode, the workload's batch at
    `size`, every available CPU as threads, float32."""
    from dlarena import registry

    cpus = available_cpus()
    return CellSpec(
        workload=workload, framework=framework, mode=registry.frameworks()[framework].default_mode,
        scenario=scenario, size=size, device="cpu",
        batch_size=registry.workloads()[workload].sizes[size].batch_size,
        precision="fp32", threads=ThreadSettings(cpus, cpus),
        measure=measure or MeasureSettings(min_window_seconds=0.2, windows=1,
                                           max_warmup_windows=5))


def built_step(cell: CellSpec) -> tuple[Step, Sync]:
    """Inside the child process: the cell's training (or inference) step over its batches,
    cycling as a worker's windows do, and the runtime's sync."""
    from dlarena.worker.main import build_cell
    from dlarena.worker.parts import cycling, device_batches

    built = build_cell(cell, lambda *_: None)
    training = cell.scenario == "train"
    built.impl.prepare(training=training)
    step = built.impl.train_step if training else built.impl.infer_step
    return cycling(step, device_batches(built.impl, built.workload, cell)), built.runtime.sync


def seconds_per_step(step: Step, sync: Sync, steps: int) -> float:
    """`steps` steps, then one sync: seconds per step."""
    start = time.perf_counter()
    value = None
    for _ in range(steps):
        value = step()
    sync(value)
    return (time.perf_counter() - start) / steps
