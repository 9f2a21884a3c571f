"""Run a plan: skip what the store already has, run the rest, store each as it finishes."""

from __future__ import annotations

import itertools
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dlarena import environment, registry
from dlarena.cell import CellSpec, ThreadSettings
from dlarena.errors import UsageError
from dlarena.executors.base import CellOutcome, Executor
from dlarena.measure import peak
from dlarena.parity.check import check_workload, pair_version
from dlarena.parity.compare import ParityResult
from dlarena.plan import PlannedCell, Request, build_plan, plan_key
from dlarena.report.curves import write_curves
from dlarena.store import Store


class Observer(Protocol):
    """What the run shows while it works (the CLI draws it; tests record it)."""

    def planned(self, run_id: int, total: int, skipped: int, resumed: bool) -> None: ...
    def started(self, index: int, total: int, planned: PlannedCell) -> None: ...
    def progress(self, planned: PlannedCell, event: dict[str, Any]) -> None: ...
    def finished(self, index: int, total: int, outcome: CellOutcome) -> None: ...
    def checking(self, workload: str, frameworks: Sequence[str]) -> None: ...
    def checked(self, results: Sequence[ParityResult], *, cached: bool) -> None: ...


@dataclass(frozen=True)
class RunSummary:
    run_id: int
    measured: int
    skipped: int
    failed: int


def default_threads() -> ThreadSettings:
    cpus = environment.available_cpus()
    return ThreadSettings(intra_op=cpus, inter_op=cpus)


def check_installed(frameworks: Sequence[str], interpreters: dict[str, str]) -> dict[str, str]:
    """Versions of the frameworks a plan needs; a missing one is the user's to install."""
    versions: dict[str, str] = {}
    for name in frameworks:
        info = registry.frameworks()[name]
        version = environment.framework_version(info, interpreters.get(name))
        if version is None:
            raise UsageError(f"{name} is not installed; install it with: "
                             f"{environment.install_command(info, interpreters.get(name))}")
        versions[name] = version
    return versions


@dataclass(frozen=True)
class PreparedRun:
    """A request checked in full (names, numbers, installed frameworks) before the store is
    opened: bad input never creates or touches a store."""

    request: Request
    planned: list[PlannedCell]
    versions: dict[str, str]
    interpreters: dict[str, str]
    key: str


def prepare(request: Request, interpreters: dict[str, str]) -> PreparedRun:
    planned = build_plan(request, default_threads(),
                         installed=environment.installed_frameworks(interpreters))
    frameworks = sorted({p.cell.framework for p in planned})
    versions = check_installed(frameworks, interpreters)
    machine = environment.machine_fingerprint()
    key = plan_key(planned, {
        "hostname": machine["hostname"],
        "cpu_model": machine["cpu_model"],
        "framework_versions": versions,
        "interpreters": {name: interpreters.get(name, sys.executable) for name in frameworks},
    })
    return PreparedRun(request, planned, versions, dict(interpreters), key)


def run(
    request: Request,
    *,
    store: Store,
    executor: Executor,
    observer: Observer,
    interpreters: dict[str, str],
    fresh: bool = False,
) -> RunSummary:
    return execute(prepare(request, interpreters), store=store, executor=executor,
                   observer=observer, fresh=fresh)


def execute(
    prepared: PreparedRun,
    *,
    store: Store,
    executor: Executor,
    observer: Observer,
    fresh: bool = False,
) -> RunSummary:
    planned, versions, interpreters = prepared.planned, prepared.versions, prepared.interpreters
    store.check_writable()
    run_id = None if fresh else store.latest_run_for_plan(prepared.key)
    resumed = run_id is not None
    if run_id is None:
        frameworks = sorted(versions)
        used = planned[0].cell.threads
        command = shlex.join(["dlarena", *sys.argv[1:]])
        fingerprint = environment.fingerprint(
            dict(versions), {"intra_op": used.intra_op, "inter_op": used.inter_op},
            peaks=peak.matmul_peaks(
                {name: interpreters.get(name, sys.executable) for name in frameworks},
                threads=used, device=prepared.request.device),
        )
        if fresh:
            run_id = store.create_run(plan_key=prepared.key, command=command,
                                      environment=fingerprint)
        else:
            # Another coordinator may have created it meanwhile: look up and create at once.
            run_id, resumed = store.run_for_plan(plan_key=prepared.key, command=command,
                                                 environment=fingerprint)
    if prepared.request.check_parity:
        ensure_parity(planned, versions, run_id=run_id, store=store, executor=executor,
                      observer=observer)
    done = store.finished(run_id)
    todo = [p for p in planned if (p.cell.key, p.process) not in done]
    observer.planned(run_id, len(planned), len(planned) - len(todo), resumed)

    failed = 0
    for index, item in enumerate(todo, start=1):
        observer.started(index, len(todo), item)

        def forward(_cell: CellSpec, event: dict[str, Any], item: PlannedCell = item) -> None:
            observer.progress(item, event)

        outcome = executor.run(item.cell, forward, replicate=item.process)
        store.save(run_id, outcome, process=item.process)
        if outcome.status == "ok":
            write_curves(store.path.parent / "tensorboard", run_id, item.cell, item.process,
                         outcome.payload.get("samples", {}))
        failed += outcome.status != "ok"
        observer.finished(index, len(todo), outcome)
    return RunSummary(run_id, len(todo), len(planned) - len(todo), failed)


def ensure_parity(
    planned: Sequence[PlannedCell],
    versions: dict[str, str],
    *,
    run_id: int,
    store: Store,
    executor: Executor,
    observer: Observer,
) -> None:
    """Prove every compared pair computes the same function; reuse checks of unchanged code."""
    groups: dict[tuple[str, str, str, ThreadSettings, int], list[str]] = {}
    for item in planned:
        cell = item.cell
        key = (cell.workload, cell.size, cell.device, cell.threads, cell.seed)
        frameworks = groups.setdefault(key, [])
        if cell.framework not in frameworks:
            frameworks.append(cell.framework)
    for (workload, size, device, threads, seed), frameworks in groups.items():
        pairs = list(itertools.combinations(frameworks, 2))
        if not pairs:
            continue
        keys = {
            pair: pair_version(workload, size, device, (pair[0], versions[pair[0]]),
                               (pair[1], versions[pair[1]]))
            for pair in pairs
        }
        cached = {pair: store.cached_parity(key) for pair, key in keys.items()}
        if all(result is not None for result in cached.values()):
            results = [result for result in cached.values() if result is not None]
            observer.checked(results, cached=True)
        else:
            observer.checking(workload, frameworks)
            results = check_workload(workload, frameworks, size=size, device=device,
                                     threads=threads, executor=executor, seed=seed)
            observer.checked(results, cached=False)
        for result in results:
            store.save_parity(run_id, keys[(result.first, result.second)], result)
