"""Turn a request (suite, overrides) into validated cells, interleaved across frameworks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from dlarena import registry
from dlarena.cell import CellSpec, MeasureSettings, ThreadSettings
from dlarena.errors import UsageError
from dlarena.scenarios import SCENARIOS
from dlarena.suites import SUITES

# How long each size measures: a window of at least `min_window_seconds`, `windows` of them.
MEASURE_BY_SIZE = {
    "smoke": MeasureSettings(min_window_seconds=0.1, windows=3, max_warmup_windows=2),
    "cpu": MeasureSettings(min_window_seconds=0.5, windows=20, max_warmup_windows=10),
    "full": MeasureSettings(min_window_seconds=1.0, windows=15, max_warmup_windows=15),
}
TIMEOUT_BY_SIZE = {"smoke": 300.0, "cpu": 900.0, "full": 3600.0}


@dataclass(frozen=True)
class Request:
    """What the user asked for; None means "the suite's choice"."""

    suite: str = "default"
    frameworks: Sequence[str] | None = None
    workloads: Sequence[str] | None = None
    scenarios: Sequence[str] | None = None
    size: str | None = None
    batch_size: int | None = None
    device: str = "cpu"
    threads: ThreadSettings | None = None
    processes: int | None = None
    windows: int | None = None
    min_window_seconds: float | None = None
    timeout_seconds: float | None = None
    seed: int = 0
    # Prove each compared pair computes the same function before giving a speed verdict.
    check_parity: bool = True


@dataclass(frozen=True)
class PlannedCell:
    """One worker process to run: a cell and which of its processes this is."""

    cell: CellSpec
    process: int


def _choose(kind: str, asked: Sequence[str] | None, default: Sequence[str],
            valid: Sequence[str]) -> list[str]:
    chosen = list(asked) if asked else list(default)
    unknown = [name for name in chosen if name not in valid]
    if unknown:
        raise UsageError(f"unknown {kind} {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(valid)}")
    return list(dict.fromkeys(chosen))


def build_plan(request: Request, default_threads: ThreadSettings) -> list[PlannedCell]:
    """Cells in run order: process-major, then workload and scenario, frameworks alternating.

    Interleaving (A B A B …) spreads a shared machine's drift over every framework alike.
    """
    if request.suite not in SUITES:
        raise UsageError(f"unknown suite {request.suite!r}; valid: {', '.join(SUITES)}")
    suite = SUITES[request.suite]
    frameworks = _choose("framework", request.frameworks, suite.frameworks,
                         list(registry.frameworks()))
    workloads = _choose("workload", request.workloads, suite.workloads,
                        list(registry.workloads()))
    scenarios = _choose("scenario", request.scenarios, suite.scenarios, list(SCENARIOS))
    size = request.size or suite.size
    if size not in registry.SIZES:
        raise UsageError(f"unknown size {size!r}; valid: {', '.join(registry.SIZES)}")
    if request.batch_size is not None and request.batch_size <= 0:
        raise UsageError(f"batch size must be a positive integer, got {request.batch_size}")
    processes = request.processes or suite.processes
    if processes < 1:
        raise UsageError(f"--processes must be >= 1, got {processes}")
    if request.device not in ("cpu", "gpu"):
        raise UsageError(f"unknown device {request.device!r}; valid: cpu, gpu")

    base = MEASURE_BY_SIZE[size]
    try:
        measure = MeasureSettings(
            min_window_seconds=request.min_window_seconds or base.min_window_seconds,
            windows=request.windows or base.windows,
            max_warmup_windows=base.max_warmup_windows,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None

    cells: list[CellSpec] = []
    for workload in workloads:
        implemented = registry.implementing_frameworks(workload)
        for scenario in scenarios:
            for framework in frameworks:
                if framework not in implemented:
                    continue
                cells.append(CellSpec(
                    workload=workload,
                    framework=framework,
                    mode=registry.frameworks()[framework].default_mode,
                    scenario=scenario,
                    size=size,
                    device=request.device,
                    batch_size=request.batch_size or registry.workloads()[workload]
                    .sizes[size].batch_size,
                    precision="fp32",
                    threads=request.threads or default_threads,
                    measure=measure,
                    seed=request.seed,
                    timeout_seconds=request.timeout_seconds or TIMEOUT_BY_SIZE[size],
                ))
    if not cells:
        raise UsageError("nothing to run: no chosen framework implements the chosen workloads")
    return [PlannedCell(cell, process) for process in range(processes) for cell in cells]


def plan_key(planned: Sequence[PlannedCell], context: dict[str, object]) -> str:
    """Identity of a plan on a machine: rerunning the same command finds (and resumes) it."""
    identity = {
        "cells": sorted(f"{p.cell.key}/{p.process}" for p in planned),
        "context": context,
    }
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
