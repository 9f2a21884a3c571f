"""A cell for bench scripts, built as a worker builds it (imported by scripts run as
`python bench/NAME.py`, whose folder is then on the import path)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from dlarena.engine.environment import available_cpus
from dlarena.executors.local import worker_environment

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


def run_inner(script: str, cell: CellSpec, arguments: list[str], *,
              python: str = sys.executable,
              environment: Mapping[str, str | None] | None = None) -> tuple[Any, str]:
    """Run `script --inner CELL ARGUMENTS` in a child with a worker's environment for the
    cell (threads, affinity), changed by `environment` (None: unset): the JSON its last
    stdout line holds, or None and the end of its stderr when it failed."""
    from dlarena import registry

    env = worker_environment(cell.threads, os.environ,
                             framework=registry.frameworks()[cell.framework])
    for name, value in (environment or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    child = subprocess.run([python, script, "--inner", cell.to_json(), *arguments],
                           capture_output=True, text=True, env=env, check=False)
    if child.returncode != 0:
        return None, child.stderr.strip()
    return json.loads(child.stdout.strip().splitlines()[-1]), ""
