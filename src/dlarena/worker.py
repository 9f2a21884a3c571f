"""`python -m dlarena.worker`: measure one cell in this process, then exit.

Reads one JSON cell spec on stdin; writes JSON lines on the original stdout: progress
events, then exactly one result. Whatever the framework prints goes to stderr, so it can
never corrupt the protocol. Imports the standard library, NumPy and the one framework asked
for, nothing else: it may run in another interpreter than the coordinator.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, TextIO

from dlarena import registry
from dlarena.cell import PROTOCOL_VERSION, CellSpec
from dlarena.frameworks.base import Runtime
from dlarena.measure.memory import peak_rss_bytes
from dlarena.measure.timing import Progress, Window
from dlarena.scenarios import SCENARIOS
from dlarena.workloads.base import Implementation, Workload


class Channel:
    """The protocol stream: one JSON object per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        fields.update(event=event, protocol=PROTOCOL_VERSION)
        self._stream.write(json.dumps(fields) + "\n")
        self._stream.flush()


def _windows(windows: tuple[Window, ...]) -> list[list[float]]:
    return [[w.steps, w.seconds] for w in windows]


@dataclass(frozen=True)
class BuiltCell:
    """A cell ready to measure: framework configured, model built with the canonical weights."""

    workload: Workload
    runtime: Runtime
    impl: Implementation
    import_seconds: float
    build_seconds: float
    trainable_parameters: int


def build_cell(cell: CellSpec, progress: Progress) -> BuiltCell:
    workload = registry.workloads()[cell.workload]
    implementation_path = registry.implementation_path(cell.workload, cell.framework)
    if implementation_path is None:
        raise LookupError(f"{cell.framework} does not implement {cell.workload}")

    progress("import", 0, 1)
    started = time.perf_counter()
    runtime_class = registry.load(registry.runtime_path(cell.framework))
    runtime: Runtime = runtime_class()  # type: ignore[operator]
    runtime.setup(threads=cell.threads, seed=cell.seed, device=cell.device)
    import_seconds = time.perf_counter() - started

    progress("build", 0, 1)
    started = time.perf_counter()
    implementation_class = registry.load(implementation_path)
    impl: Implementation = implementation_class(workload, cell, runtime)  # type: ignore[operator]
    impl.build()
    impl.set_weights(workload.initial_weights(cell.size, cell.seed))
    build_seconds = time.perf_counter() - started

    counted = impl.trainable_parameter_count()
    expected = workload.trainable_parameter_count(cell.size)
    if counted != expected:
        raise AssertionError(
            f"not the same model: {cell.framework} counts {counted} trainable parameters, "
            f"the workload's layout has {expected}"
        )
    return BuiltCell(workload, runtime, impl, import_seconds, build_seconds, counted)


def measure_cell(cell: CellSpec, channel: Channel) -> dict[str, Any]:
    def progress(phase: str, done: int, total: int) -> None:
        channel.emit("progress", phase=phase, done=done, total=total)

    built = build_cell(cell, progress)
    workload, runtime, impl = built.workload, built.runtime, built.impl
    result = SCENARIOS[cell.scenario].run(impl, runtime, workload, cell, progress)
    metrics: dict[str, float] = {
        "first_step_seconds": result.timing.first_step_seconds,
        "import_seconds": built.import_seconds,
        "build_seconds": built.build_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
        "trainable_parameters": built.trainable_parameters,
        **result.extra_metrics,
    }
    device_peak = runtime.peak_device_memory_bytes()
    if device_peak is not None:
        metrics["peak_device_memory_bytes"] = device_peak
    return {
        "framework_version": runtime.version(),
        "device_name": runtime.device_name(),
        "throughput_metric": result.throughput_metric,
        "windows": _windows(result.timing.windows),
        "warmup": _windows(result.timing.warmup),
        "steps_per_window": result.timing.steps_per_window,
        "warmup_capped": result.timing.warmup_capped,
        "clock_resolution": time.get_clock_info("perf_counter").resolution,
        "metrics": metrics,
        "manifest": {**runtime.manifest(), "data_layout": impl.data_layout()},
        "pid": os.getpid(),
    }


def main() -> int:
    # Keep the real stdout for the protocol; send fd 1 (framework chatter) to stderr.
    channel = Channel(os.fdopen(os.dup(sys.stdout.fileno()), "w"))
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        cell = CellSpec.from_json(sys.stdin.read())
        payload = measure_cell(cell, channel)
    except Exception as error:  # every failure is data for the store, not a lost run
        channel.emit(
            "result",
            status="error",
            error=f"{type(error).__name__}: {error}",
            traceback=traceback.format_exc(),
        )
        return 1
    channel.emit("result", status="ok", **payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
