"""Run a plan: skip what the store already has, run the rest, store each as it finishes.

With a stopping rule the plan's processes are rounds: round r runs process r of every cell
whose comparison is still open, and a comparison closes once every pair in it is decided
(measure.stopping). A rerun resumes: stored processes are skipped, decisions recomputed.
"""

from __future__ import annotations

import itertools
import shlex
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from dlarena import environment, registry
from dlarena.cell import CellSpec, ThreadSettings
from dlarena.errors import UsageError
from dlarena.executors.base import CellOutcome, Executor
from dlarena.measure import peak, stats, stopping
from dlarena.measure.metrics import METRICS
from dlarena.measure.scenarios import SCENARIOS, swept_options
from dlarena.measure.verdict import compared_pairs
from dlarena.parity.check import check_workload, pair_version
from dlarena.parity.compare import ParityResult
from dlarena.plan import PlannedCell, Request, build_plan, plan_key, stopping_rule
from dlarena.report import facts
from dlarena.report.curves import write_curves
from dlarena.store import Store, StoredCell

# The cells whose figures a verdict compares: one workload and scenario at one size, batch
# and device, in several frameworks or modes.
GroupKey = tuple[str, str, str, int, str, str]


def group_key(cell: CellSpec) -> GroupKey:
    """As the report groups cells: swept options (loader workers, file format) apart."""
    return (cell.workload, cell.scenario, cell.size, cell.batch_size, cell.device,
            swept_options(cell))


class Observer(Protocol):
    """What the run shows while it works (the CLI draws it; tests record it)."""

    def planned(self, run_id: int, total: int, skipped: int, resumed: bool) -> None: ...
    def started(self, index: int, total: int, planned: PlannedCell) -> None: ...
    def progress(self, planned: PlannedCell, event: dict[str, Any]) -> None: ...
    def finished(self, index: int, total: int, outcome: CellOutcome) -> None: ...
    def checking(self, workload: str, variants: Sequence[str]) -> None: ...
    def checked(self, results: Sequence[ParityResult], *, cached: bool) -> None: ...
    def note(self, text: str) -> None: ...


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
            reason = environment.not_runnable_reason(info, interpreters.get(name))
            raise UsageError(f"{name} is {reason}")
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
    # The same plan's key without the code version: finds the run a code change replaces.
    key_without_code: str
    code_version: str
    rule: stopping.StoppingRule | None


def prepare(request: Request, interpreters: dict[str, str]) -> PreparedRun:
    planned = build_plan(request, default_threads(),
                         installed=environment.installed_frameworks(interpreters))
    frameworks = sorted({p.cell.framework for p in planned})
    versions = check_installed(frameworks, interpreters)
    machine = environment.machine_fingerprint()
    rule = stopping_rule(request)
    code = environment.code_version()
    context = {
        "hostname": machine["hostname"],
        "cpu_model": machine["cpu_model"],
        "framework_versions": versions,
        "interpreters": {name: interpreters.get(name, sys.executable) for name in frameworks},
        "stopping": rule.to_json() if rule is not None else None,
    }
    return PreparedRun(request, planned, versions, dict(interpreters),
                       key=plan_key(planned, {**context, "code_version": code}),
                       key_without_code=plan_key(planned, context), code_version=code,
                       rule=rule)


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
    rule = prepared.rule
    if run_id is None:
        older = [run for run in store.runs()
                 if run.environment.get("plan_without_code") == prepared.key_without_code]
        if older and not fresh:
            observer.note(f"the code changed since run {older[-1].id} (code version "
                          f"{older[-1].environment.get('code_version')} -> "
                          f"{prepared.code_version}): starting a new run instead of resuming it")
        frameworks = sorted(versions)
        used = planned[0].cell.threads
        command = shlex.join(["dlarena", *sys.argv[1:]])
        fingerprint = {
            **environment.fingerprint(
                dict(versions), {"intra_op": used.intra_op, "inter_op": used.inter_op},
                peaks=peak.matmul_peaks(
                    {name: interpreters.get(name, sys.executable) for name in frameworks},
                    threads=used, device=prepared.request.device),
                device=prepared.request.device,
            ),
            # Frameworks this run could not measure, and why (the paper table shows them).
            "frameworks_not_runnable": environment.not_runnable(interpreters),
            "code_version": prepared.code_version,
            "plan_without_code": prepared.key_without_code,
            "stopping": rule.to_json() if rule is not None else None,
            # What reports need of today's definitions, so they read the store only.
            "definitions": facts.Definitions.current().to_json(),
        }
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
    if rule is not None:
        observer.note(f"measuring in rounds until each comparison is decided: "
                      f"{rule.min_rounds}–{rule.max_rounds} worker processes per cell, "
                      f"{rule.windows} windows each, {rule.confidence:.1%} intervals "
                      f"(alpha {rule.alpha:g} over {rule.looks} looks), equivalent within "
                      f"±{rule.equivalence:.0%}")
    measured = failed = 0
    open_groups = {group_key(p.cell) for p in planned}
    for round_index in range(max(p.process for p in planned) + 1):
        batch = [p for p in todo if p.process == round_index and group_key(p.cell) in open_groups]
        if executor.slots > 1:
            failed += _measure_at_once(batch, measured, len(todo), run_id=run_id, store=store,
                                       executor=executor, observer=observer)
            measured += len(batch)
            batch = []
        for item in batch:
            measured += 1
            failed += _measure(item, measured, len(todo), run_id=run_id, store=store,
                               executor=executor, observer=observer)
        if rule is not None and round_index + 1 >= rule.min_rounds:
            for group, decisions in _decisions(store.cells(run_id), rule, round_index + 1,
                                               open_groups).items():
                if stopping.CONTINUE not in decisions.values():
                    open_groups.discard(group)
                    observer.note(f"{group[0]} {group[1]}: decided after {round_index + 1} "
                                  "rounds: " + "; ".join(f"{pair} {decision}"
                                                         for pair, decision in decisions.items()))
    return RunSummary(run_id, measured, len(planned) - len(todo), failed)


def _measure(item: PlannedCell, index: int, total: int, *, run_id: int, store: Store,
             executor: Executor, observer: Observer) -> bool:
    """Run one worker process and store it; True when it failed."""
    observer.started(index, total, item)

    def forward(_cell: CellSpec, event: dict[str, Any]) -> None:
        observer.progress(item, event)

    outcome = executor.run(item.cell, forward, replicate=item.process)
    store.save(run_id, outcome, process=item.process)
    if outcome.status == "ok":
        write_curves(store.path.parent / "tensorboard", run_id, item.cell, item.process,
                     outcome.payload.get("samples", {}))
    observer.finished(index, total, outcome)
    return outcome.status != "ok"


def _measure_at_once(batch: Sequence[PlannedCell], done: int, total: int, *, run_id: int,
                     store: Store, executor: Executor, observer: Observer) -> int:
    """Keep `executor.slots` cells in flight (each on its own machine), and store each as it
    comes back; the observer hears of a cell when it finishes, from this thread only, and
    progress within cells is not relayed. How many failed."""
    failed = 0
    pool = ThreadPoolExecutor(max_workers=executor.slots, thread_name_prefix="dlarena-cell")
    try:
        futures = {pool.submit(executor.run, item.cell, lambda _cell, _event: None,
                               replicate=item.process): item for item in batch}
        for future in as_completed(futures):
            item = futures[future]
            outcome = future.result()
            done += 1
            observer.started(done, total, item)
            store.save(run_id, outcome, process=item.process)
            if outcome.status == "ok":
                write_curves(store.path.parent / "tensorboard", run_id, item.cell,
                             item.process, outcome.payload.get("samples", {}))
            observer.finished(done, total, outcome)
            failed += outcome.status != "ok"
    except BaseException:
        executor.cancel()  # an interrupted run leaves nothing measuring on the cluster
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return failed


def _decisions(cells: Sequence[StoredCell], rule: stopping.StoppingRule, rounds: int,
               open_groups: set[GroupKey]) -> dict[GroupKey, dict[str, str]]:
    """Each open group's pairs after `rounds` rounds, on the scenario's headline metric,
    with the noise priors of every cell and pair of the run on that metric (report.model
    does the same, so the report reads the verdicts the run stopped on)."""
    every_group: dict[GroupKey, list[StoredCell]] = {}
    for cell in cells:
        every_group.setdefault(group_key(cell.spec), []).append(cell)
    by_group = {key: members for key, members in every_group.items() if key in open_groups}
    headlines = {SCENARIOS[key[1]].headline for key in by_group} - {None}
    noises = {metric: stats.run_noise([[c.by_round(metric) for c in members
                                        if c.samples_by_process.get(metric)]
                                       for members in every_group.values()])
              for metric in headlines if metric}
    decisions: dict[GroupKey, dict[str, str]] = {}
    for key, members in by_group.items():
        metric = SCENARIOS[key[1]].headline
        measured = [c for c in members if metric and c.samples_by_process.get(metric)]
        compared = compared_pairs(
            measured, _median_of(metric),
            METRICS[metric].higher_is_better) if metric else []
        pairs = {f"{a.spec.framework}/{a.spec.mode} vs {b.spec.framework}/{b.spec.mode}":
                 stopping.decide(a.by_round(metric), b.by_round(metric),
                                 rule, rounds=rounds, noise=noises.get(metric))
                 for a, b in compared if metric}
        # A group with nothing to compare needs only the minimum rounds.
        decisions[key] = pairs or {"nothing to compare": stopping.UNDECIDED}
    return decisions


def _median_of(metric: str) -> Callable[[StoredCell], float]:
    return lambda cell: stats.median(cell.samples[metric])


def ensure_parity(
    planned: Sequence[PlannedCell],
    versions: dict[str, str],
    *,
    run_id: int,
    store: Store,
    executor: Executor,
    observer: Observer,
) -> None:
    """Prove every compared pair computes the same function in the modes the run measures,
    and that each timed path computes at its precision; reuse checks of unchanged code."""
    groups: dict[tuple[str, str, str, ThreadSettings, int], list[tuple[str, str]]] = {}
    for item in planned:
        cell = item.cell
        if not SCENARIOS[cell.scenario].compared:
            continue  # no verdict compares these cells, so nothing needs proving the same
        key = (cell.workload, cell.size, cell.device, cell.threads, cell.seed)
        variants = groups.setdefault(key, [])
        if (cell.framework, cell.mode) not in variants:
            variants.append((cell.framework, cell.mode))
    for (workload, size, device, threads, seed), variants in groups.items():
        pairs = list(itertools.combinations(variants, 2))
        if not pairs:
            continue
        keys = {
            pair: pair_version(workload, size, device,
                               (pair[0][0], versions[pair[0][0]], pair[0][1]),
                               (pair[1][0], versions[pair[1][0]], pair[1][1]))
            for pair in pairs
        }
        cached = {pair: store.cached_parity(key) for pair, key in keys.items()}
        if all(result is not None for result in cached.values()):
            results = [result for result in cached.values() if result is not None]
            observer.checked(results, cached=True)
        else:
            observer.checking(workload, [f"{framework}/{mode}" for framework, mode in variants])
            results = check_workload(workload, variants, size=size, device=device,
                                     threads=threads, executor=executor, seed=seed)
            observer.checked(results, cached=False)
        # Both come in the order of `pairs`.
        for pair, result in zip(pairs, results, strict=True):
            store.save_parity(run_id, keys[pair], result)
