"""Turn a request (suite, overrides) into validated cells, interleaved across frameworks."""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dlarena import registry
from dlarena.analysis.stopping import StoppingRule
from dlarena.cell import TIMED_PRECISION, CellSpec, MeasureSettings, ThreadSettings
from dlarena.engine.suites import (
    DEFAULT_SET,
    DEFAULT_SET_AND_FRONT_ENDS,
    FRONT_ENDS,
    INSTALLED,
    SUITES,
    Suite,
)
from dlarena.errors import UsageError
from dlarena.scenarios import SCENARIOS

# How long each size measures: a window of at least `min_window_seconds`, `windows` of them.
MEASURE_BY_SIZE = {
    "smoke": MeasureSettings(min_window_seconds=0.1, windows=3, max_warmup_windows=2),
    "cpu": MeasureSettings(min_window_seconds=0.5, windows=20, max_warmup_windows=10),
    "full": MeasureSettings(min_window_seconds=1.0, windows=15, max_warmup_windows=15),
}
TIMEOUT_BY_SIZE = {"smoke": 300.0, "cpu": 900.0, "full": 3600.0}

# The largest value each number may take. Larger ones are typos, and some would fail only
# later, in a worker or in SQLite: batch sizes are 32-bit shapes in every framework; a seed
# must stay a 32-bit unsigned number (NumPy's global seed) once a cell's worker process N
# has added N to it.
MAX_BATCH_SIZE = 2**31 - 1
MAX_PROCESSES = 1000
MAX_SEED = 2**32 - MAX_PROCESSES
MAX_THREADS = 1024
MAX_WINDOWS = 10_000
MAX_EPOCHS = 10_000
MAX_MIN_WINDOW_SECONDS = 3600.0
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Request:
    """What the user asked for; None means "the suite's choice"."""

    suite: str = "default"
    frameworks: Sequence[str] | None = None
    workloads: Sequence[str] | None = None
    scenarios: Sequence[str] | None = None
    size: str | None = None
    # Several sizes make a batch-size sweep; None: the scenario's or the workload's default.
    batch_sizes: Sequence[int] | None = None
    # Framework mode names, or "default", "eager", "compiled", "all" (see `modes_for`).
    modes: Sequence[str] | None = None
    device: str = "cpu"
    threads: ThreadSettings | None = None
    processes: int | None = None
    windows: int | None = None
    min_window_seconds: float | None = None
    timeout_seconds: float | None = None
    seed: int = 0
    # Convergence: epochs and dataset override the suite's options.
    epochs: int | None = None
    dataset: str | None = None
    # Prove each compared pair computes the same function before giving a speed verdict.
    check_parity: bool = True
    # Measure in rounds until each pair is decided; None: the suite's choice.
    until_decided: bool | None = None
    # The adaptive rule's margin of "no meaningful difference" and its most rounds; None:
    # the rule's defaults.
    equivalence: float | None = None
    max_rounds: int | None = None
    # Values of a scenario's swept cell options (loader workers, file format) that replace
    # the scenario's own; an option no chosen scenario sweeps is refused.
    sweep: Mapping[str, Sequence[Any]] | None = None


@dataclass(frozen=True)
class PlannedCell:
    """One worker process to run: a cell and which of its processes this is."""

    cell: CellSpec
    process: int
    # Its place among its group's cells in its round, drawn at random by the runner.
    order: int | None = None


def _choose(kind: str, asked: Sequence[str] | None, default: Sequence[str],
            valid: Sequence[str], *, listed: Sequence[str] | None = None) -> list[str]:
    """The names asked for (else `default`), each one of `valid`; a mistake lists `listed`
    (default: every valid name)."""
    chosen = list(asked) if asked else list(default)
    unknown = [name for name in chosen if name not in valid]
    if unknown:
        raise UsageError(f"unknown {kind} {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(listed or valid)}")
    return list(dict.fromkeys(chosen))


MODE_GROUPS = ("default", "eager", "compiled", "all")


def modes_for(framework: str, asked: Sequence[str]) -> list[str]:
    """The framework's modes that `asked` selects: its names, or a group of MODE_GROUPS."""
    info = registry.frameworks()[framework]
    chosen: list[str] = []
    for name in asked:
        if name == "all":
            chosen += info.modes
        elif name == "default":
            chosen.append(info.default_mode)
        elif name == "eager":
            chosen += [info.eager_mode] if info.eager_mode is not None else []
        elif name == "compiled":
            chosen += info.compiled_modes
        elif name in info.modes:
            chosen.append(name)
    return list(dict.fromkeys(chosen))


def _check_modes(asked: Sequence[str], frameworks: Sequence[str]) -> None:
    known = {mode for framework in frameworks for mode in registry.frameworks()[framework].modes}
    unknown = [name for name in asked if name not in known and name not in MODE_GROUPS]
    if unknown:
        valid = [*MODE_GROUPS, *sorted(known - set(MODE_GROUPS))]
        raise UsageError(f"unknown mode {', '.join(map(repr, unknown))} for "
                         f"{', '.join(frameworks)}; valid: {', '.join(valid)}")


def _interleaved(variants: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A's first mode, B's first mode, A's second, B's second…: frameworks alternate."""
    by_framework: dict[str, list[str]] = {}
    for framework, mode in variants:
        by_framework.setdefault(framework, []).append(mode)
    rounds = itertools.zip_longest(*by_framework.values())
    names = list(by_framework)
    return [(names[i], mode) for modes in rounds for i, mode in enumerate(modes) if mode]


def front_ends_and_beneath() -> set[str]:
    """Frameworks that run another's implementations, that other one, and what they run on
    (those that exist here: a framework beneath that has no folder is not measured)."""
    known = registry.frameworks()
    front = [info for info in known.values() if info.implementations_of and not info.test_double]
    names = {info.name for info in front}
    names |= {info.implementations_of for info in front if info.implementations_of}
    names |= {info.runs_on for info in front if info.runs_on}
    return names & set(known)


def suite_frameworks(suite: Suite, installed: Collection[str]) -> list[str]:
    """The frameworks a suite's rule admits (test doubles never, unless asked by name).

    The default set is what `make run` installs: a missing member is reported with its
    install command later, not silently dropped. Every other rule takes what is installed.
    """
    fronts = (front_ends_and_beneath() & set(installed)
              if suite.frameworks in (FRONT_ENDS, DEFAULT_SET_AND_FRONT_ENDS) else set())
    if suite.frameworks == FRONT_ENDS:
        chosen = [name for name in registry.frameworks() if name in fronts]
    else:
        chosen = [name for name, info in registry.frameworks().items() if not info.test_double
                  and (info.in_default_set if suite.frameworks == DEFAULT_SET
                       else name in installed if suite.frameworks == INSTALLED
                       else info.in_default_set or name in fronts)]
    if not chosen:
        raise UsageError(f"suite {suite.name!r} compares {suite.frameworks}, and none is "
                         "installed: see `dlarena list` for install commands")
    return chosen


def stopping_rule(request: Request) -> StoppingRule | None:
    """The adaptive rule the request measures under, or None for a fixed number of
    processes and windows."""
    suite = SUITES.get(request.suite)
    # An explicit process count asks for a fixed run, unless --until-decided is explicit too.
    adaptive = request.until_decided if request.until_decided is not None else (
        suite is not None and suite.until_decided and request.processes is None)
    if not adaptive:
        if request.equivalence is not None or request.max_rounds is not None:
            raise UsageError("--equivalence and --max-rounds apply to a run measured until "
                             "decided (--until-decided)")
        return None
    if request.processes is not None:
        raise UsageError("--processes fixes the number of worker processes; --until-decided "
                         "chooses it per comparison: give one or the other")
    max_rounds = request.max_rounds or StoppingRule.max_rounds
    _check_range("--max-rounds", max_rounds, StoppingRule.min_rounds, MAX_PROCESSES)
    return StoppingRule(windows=request.windows or StoppingRule.windows, max_rounds=max_rounds,
                        equivalence=(request.equivalence if request.equivalence is not None
                                     else StoppingRule.equivalence))


def build_plan(request: Request, default_threads: ThreadSettings, *,
               installed: Collection[str] = ()) -> list[PlannedCell]:
    """Cells in run order: process-major, then workload and scenario, frameworks alternating.

    Interleaving (A B A B …) spreads a shared machine's drift over every framework alike.
    `installed` names the frameworks installed here, for suites that take every one of them.
    """
    if request.suite not in SUITES:
        raise UsageError(f"unknown suite {request.suite!r}; valid: {', '.join(SUITES)}")
    suite = SUITES[request.suite]
    frameworks = _choose("framework", request.frameworks,
                         suite_frameworks(suite, installed) if not request.frameworks else (),
                         list(registry.frameworks()), listed=registry.names())
    for framework in frameworks:
        reason = registry.frameworks()[framework].unavailable
        if reason is not None:  # chosen by name: a rule never chooses one that cannot run
            raise UsageError(f"{framework} is not runnable here: {reason}")
    workloads = _choose("workload", request.workloads, suite.workloads,
                        list(registry.workloads()))
    scenarios = {workload: _choose("scenario", request.scenarios,
                                   suite.scenarios_for(workload), list(SCENARIOS))
                 for workload in workloads}
    size = request.size if request.size is not None else suite.size
    if size not in registry.SIZES:
        raise UsageError(f"unknown size {size!r}; valid: {', '.join(registry.SIZES)}")
    batch_sizes = list(request.batch_sizes or ())
    for batch_size in batch_sizes:
        _check_range("batch size", batch_size, 1, MAX_BATCH_SIZE)
        if batch_sizes.count(batch_size) > 1:
            raise UsageError(f"batch size {batch_size} given twice")
    asked_modes = {workload: list(request.modes or suite.modes_for(workload))
                   for workload in workloads}
    for chosen_modes in asked_modes.values():
        _check_modes(chosen_modes, frameworks)
    rule = stopping_rule(request)
    # Adaptive: every round is one more process of each cell, up to the rule's budget.
    processes = rule.max_rounds if rule is not None else request.processes or suite.processes
    _check_range("--processes", processes, 1, MAX_PROCESSES)
    _check_range("--seed", request.seed, 0, MAX_SEED)
    threads = request.threads or default_threads
    _check_range("--threads", threads.intra_op, 1, MAX_THREADS)
    _check_range("--interop-threads", threads.inter_op, 1, MAX_THREADS)
    _check_range("--windows", request.windows, 1, MAX_WINDOWS)
    _check_range("--epochs", request.epochs, 1, MAX_EPOCHS)
    _check_range("--min-window", request.min_window_seconds, 0, MAX_MIN_WINDOW_SECONDS)
    _check_range("--timeout", request.timeout_seconds, 0, MAX_TIMEOUT_SECONDS)
    if request.device not in ("cpu", "gpu"):
        raise UsageError(f"unknown device {request.device!r}; valid: cpu, gpu")
    asked = {"dataset": request.dataset, "epochs": request.epochs}
    _check_taken(asked, [name for chosen in scenarios.values() for name in chosen])

    base = MEASURE_BY_SIZE[size]
    try:
        measure = MeasureSettings(
            min_window_seconds=request.min_window_seconds or base.min_window_seconds,
            windows=(rule.windows if rule is not None
                     else request.windows or suite.windows or base.windows),
            max_warmup_windows=base.max_warmup_windows,
        )
    except ValueError as error:
        raise UsageError(str(error)) from None

    cells: list[CellSpec] = []
    for workload in workloads:
        implemented = registry.implementing_frameworks(workload)
        variants = [(framework, mode) for framework in frameworks if framework in implemented
                    for mode in modes_for(framework, asked_modes[workload])]
        spec = registry.workloads()[workload]
        for name in scenarios[workload]:
            scenario = SCENARIOS[name]
            default_batch = scenario.batch_size or spec.sizes[size].batch_size
            options = scenario.options(spec, suite.options.get(workload, {}), asked)
            timeout = (request.timeout_seconds
                       or TIMEOUT_BY_SIZE[size] * scenario.timeout_factor(options))
            for batch_size, swept in itertools.product(batch_sizes or [default_batch],
                                                       _swept(request, name)):
                for framework, mode in _interleaved(variants):
                    # The scenario says which cells the framework runs (none, one, one per
                    # number of data-parallel ranks...), with which options and threads.
                    for cell_options, cell_threads in scenario.cells(
                            framework, {**options, **swept}, threads):
                        cells.append(CellSpec(
                            workload=workload,
                            framework=framework,
                            mode=mode,
                            scenario=name,
                            size=size,
                            device=request.device,
                            batch_size=batch_size,
                            precision=TIMED_PRECISION,
                            threads=cell_threads,
                            measure=measure,
                            seed=request.seed,
                            timeout_seconds=timeout,
                            options=cell_options,
                        ))
    _check_sweep(request, [s for chosen in scenarios.values() for s in chosen])
    if not cells:
        raise UsageError("nothing to run: no chosen framework implements the chosen workloads")
    return [PlannedCell(cell, process) for process in range(processes) for cell in cells]


def _swept(request: Request, scenario: str) -> list[dict[str, Any]]:
    """One options dict per combination of the scenario's swept values (the request's
    values where it gives them)."""
    sweep = {**SCENARIOS[scenario].sweep}
    for name, values in (request.sweep or {}).items():
        if name in sweep:
            sweep[name] = tuple(values)
    return [dict(zip(sweep, values, strict=True)) for values in itertools.product(*sweep.values())]


def _check_taken(asked: Mapping[str, Any], chosen: Sequence[str]) -> None:
    """Refuse a request option (--dataset, --epochs) that no chosen scenario reads."""
    for option, value in asked.items():
        takers = [name for name, scenario in SCENARIOS.items() if option in scenario.takes]
        if value is not None and not set(takers) & set(chosen):
            raise UsageError(f"--{option} applies to the {' and '.join(takers)} scenario, "
                             "which this plan does not run "
                             f"(add --scenarios {','.join(takers)})")


def _check_sweep(request: Request, scenarios: Sequence[str]) -> None:
    sweepable = {name: values for scenario in scenarios
                 for name, values in SCENARIOS[scenario].sweep.items()}
    for name, values in (request.sweep or {}).items():
        if name not in sweepable:
            raise UsageError(f"{name} is an option of no chosen scenario; sweepable: "
                             f"{', '.join(sorted(sweepable)) or 'none'}")
        if not values:
            raise UsageError(f"{name}: give at least one value")
        kind = type(sweepable[name][0])
        wrong = [value for value in values if type(value) is not kind]
        if wrong or (kind is int and min(values) < 0):
            raise UsageError(f"{name} takes values like {', '.join(map(str, sweepable[name]))}, "
                             f"got {', '.join(map(str, values))}")


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    """An integer in [low, high], or seconds in (low, high]; None is "not given"."""
    if value is None:
        return
    if isinstance(value, int):
        if not low <= value <= high:
            digits = str(value)
            shown = digits if len(digits) <= 24 else f"a {len(digits)}-digit number"
            raise UsageError(f"{name} must be an integer from {low} to {high}, got {shown}")
    elif not low < value <= high:
        raise UsageError(f"{name} must be more than {low:g} and at most {high:g} seconds, "
                         f"got {value:g}")


def plan_key(planned: Sequence[PlannedCell], context: dict[str, object]) -> str:
    """Identity of a plan on a machine: rerunning the same command finds (and resumes) it."""
    identity = {
        "cells": sorted(f"{p.cell.key}/{p.process}" for p in planned),
        "context": context,
    }
    text = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
