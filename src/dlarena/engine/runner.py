"""Run a plan: skip what the store already has, run the rest, store each as it finishes.

With a stopping rule the plan's processes are rounds: round r runs process r of every cell
whose comparison is still open, and a comparison closes once every pair in it is decided
(measure.stopping). A rerun resumes: stored processes are skipped, decisions recomputed.
"""

from __future__ import annotations

import itertools
import random
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dlarena import registry
from dlarena.analysis import stats, stopping
from dlarena.analysis.metrics import METRICS
from dlarena.analysis.verdict import compared_pairs
from dlarena.cell import ERROR, CellSpec, ThreadSettings
from dlarena.engine import environment
from dlarena.engine.plan import PlannedCell, Request, build_plan, plan_key, stopping_rule
from dlarena.errors import UsageError
from dlarena.executors.base import CellOutcome, Executor
from dlarena.parity.check import check_many, check_processes, pair_version
from dlarena.parity.compare import ParityResult
from dlarena.report import facts
from dlarena.report.curves import write_curves
from dlarena.scenarios import SCENARIOS, swept_options
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
    labels: dict[str, Any] | None = None,
) -> RunSummary:
    """Measure a prepared run (resuming the stored one unless `fresh`); `labels` join a new
    run's stored environment (the A/A control's session)."""
    planned, versions, interpreters = prepared.planned, prepared.versions, prepared.interpreters
    store.check_writable()
    invoked = time.monotonic()
    peaks_seconds = 0.0
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
        started = time.monotonic()
        peaks = environment.matmul_peaks(
            {name: interpreters.get(name, sys.executable) for name in frameworks},
            threads=used, device=prepared.request.device)
        peaks_seconds = time.monotonic() - started
        fingerprint = {
            **environment.fingerprint(
                dict(versions), {"intra_op": used.intra_op, "inter_op": used.inter_op},
                peaks=peaks, device=prepared.request.device,
            ),
            # Frameworks this run could not measure, and why (the paper table shows them).
            "frameworks_not_runnable": environment.not_runnable(interpreters),
            "code_version": prepared.code_version,
            "plan_without_code": prepared.key_without_code,
            "stopping": rule.to_json() if rule is not None else None,
            # What reports need of today's definitions, so they read the store only.
            "definitions": facts.Definitions.current().to_json(),
            **(labels or {}),
        }
        if fresh:
            run_id = store.create_run(plan_key=prepared.key, command=command,
                                      environment=fingerprint)
        else:
            # Another coordinator may have created it meanwhile: look up and create at once.
            run_id, resumed = store.run_for_plan(plan_key=prepared.key, command=command,
                                                 environment=fingerprint)
    if peaks_seconds:
        store.add_run_phase(run_id, "peaks", peaks_seconds)
    if prepared.request.check_parity:
        started = time.monotonic()
        ensure_parity(planned, versions, run_id=run_id, store=store, executor=executor,
                      observer=observer)
        store.add_run_phase(run_id, "checks", time.monotonic() - started)
    done = store.finished(run_id)
    todo = [p for p in planned if (p.cell.key, p.process) not in done]
    observer.planned(run_id, len(planned), len(planned) - len(todo), resumed)
    if rule is not None:
        observer.note(f"measuring in rounds until each pair is decided: "
                      f"{rule.min_rounds}–{rule.max_rounds} worker processes per cell, in an "
                      f"order rotated each round, {rule.windows} windows each; each "
                      f"pair on its own rounds, {rule.overall:.0%} over all looks "
                      f"({rule.confidence:.1%} per look); no meaningful difference within "
                      f"±{rule.equivalence:.0%}")
    measured = failed = 0
    open_cells = {p.cell.key for p in planned}
    for round_index in range(max(p.process for p in planned) + 1):
        batch = in_rotated_order(
            [p for p in todo if p.process == round_index and p.cell.key in open_cells],
            run_id=run_id, round_index=round_index)
        if round_index > 0 and batch:
            batch = calibrated(batch, store.cells(run_id))
        if executor.slots > 1:
            failed += _measure_at_once(batch, measured, len(todo), run_id=run_id, store=store,
                                       executor=executor, observer=observer)
            measured += len(batch)
            batch = []
        for item in batch:
            measured += 1
            failed += _measure(item, measured, len(todo), run_id=run_id, store=store,
                               executor=executor, observer=observer)
        executor.end_round()  # a cell's next process never shares this round's fork server
        if rule is not None and round_index + 1 >= rule.min_rounds:
            looks = _looks(store.cells(run_id), rule)
            for pair in looks:
                if pair.look.final and pair.look.rounds == round_index + 1:
                    observer.note(f"{pair.group[0]} {pair.group[1]}: {pair.label} "
                                  f"{pair.look.decision} after {pair.look.rounds} rounds")
            open_cells = _still_open(looks)
    store.add_run_phase(run_id, "run", time.monotonic() - invoked)
    return RunSummary(run_id, measured, len(planned) - len(todo), failed)


def _measure(item: PlannedCell, index: int, total: int, *, run_id: int, store: Store,
             executor: Executor, observer: Observer) -> bool:
    """Run one worker process and store it; True when it failed (not when unsupported)."""
    observer.started(index, total, item)

    def forward(_cell: CellSpec, event: dict[str, Any]) -> None:
        observer.progress(item, event)

    outcome = _ordered(executor.run(item.cell, forward, replicate=item.process), item)
    store.save(run_id, outcome, process=item.process)
    if outcome.status == "ok":
        write_curves(store.path.parent / "tensorboard", run_id, item.cell, item.process,
                     outcome.payload.get("samples", {}))
    observer.finished(index, total, outcome)
    return outcome.status == ERROR  # unsupported is a recorded outcome, not a failure


def _ordered(outcome: CellOutcome, item: PlannedCell) -> CellOutcome:
    """The outcome with its place in its group's round recorded (`in_rotated_order`)."""
    if item.order is None:
        return outcome
    return replace(outcome, details={**outcome.details, "round_order": item.order})


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
            outcome = _ordered(future.result(), item)
            done += 1
            observer.started(done, total, item)
            store.save(run_id, outcome, process=item.process)
            if outcome.status == "ok":
                write_curves(store.path.parent / "tensorboard", run_id, item.cell,
                             item.process, outcome.payload.get("samples", {}))
            observer.finished(done, total, outcome)
            failed += outcome.status == ERROR
    except BaseException:
        executor.cancel()  # an interrupted run leaves nothing measuring on the cluster
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return failed


@dataclass(frozen=True)
class PairLook:
    """One compared pair of a group and its decision so far (final at its first decisive
    look: stopping.settle)."""

    group: GroupKey
    label: str  # "torch/eager vs tensorflow/function"
    cells: tuple[str, str]  # the two cells' keys
    look: stopping.Look


def _looks(cells: Sequence[StoredCell], rule: stopping.StoppingRule) -> list[PairLook]:
    """Every group's compared pairs on its scenario's headline metric, each judged on its
    own rounds only (report.model pairs the same cells, so the report reads the decisions the
    run stopped on)."""
    groups: dict[GroupKey, list[StoredCell]] = {}
    for cell in cells:
        groups.setdefault(group_key(cell.spec), []).append(cell)
    looks = []
    for key, members in groups.items():
        metric = SCENARIOS[key[1]].headline
        if not metric:
            continue
        measured = [c for c in members if c.samples_by_process.get(metric)]
        for a, b in compared_pairs(measured, _median_of(metric),
                                   METRICS[metric].higher_is_better):
            label = f"{a.spec.framework}/{a.spec.mode} vs {b.spec.framework}/{b.spec.mode}"
            looks.append(PairLook(key, label, (a.spec.key, b.spec.key),
                                  stopping.settle(a.by_round(metric), b.by_round(metric),
                                                  rule)))
    return looks


def _still_open(looks: Sequence[PairLook]) -> set[str]:
    """Keys of the cells in at least one pair that is not final yet: a cell in no open pair
    (every pair of it decided, or it failed, or nothing compares with it) stops."""
    return {key for pair in looks if not pair.look.final for key in pair.cells}


def in_rotated_order(batch: Sequence[PlannedCell], *, run_id: int, round_index: int
                     ) -> list[PlannedCell]:
    """The round's cells, groups in plan order, each group's in an order drawn at random
    once per run and group, rotated by one place each round: every cell runs first equally
    often. A penalty on whoever runs first (a machine warmer or colder after the previous
    group) then cancels over rounds; drawn afresh each round it does not (two rounds with
    the same one first read as a consistent difference: tests/analysis/test_calibration.py),
    and fixed it is a bias no interval sees. Seeded by the run, so a resumed run repeats it."""
    groups: dict[GroupKey, list[PlannedCell]] = {}
    for item in batch:
        groups.setdefault(group_key(item.cell), []).append(item)
    ordered: list[PlannedCell] = []
    for key, members in groups.items():
        base = sorted(members, key=lambda item: item.cell.key)
        random.Random(f"{run_id}/{key}").shuffle(base)
        shift = round_index % len(base)
        for position, item in enumerate(base[shift:] + base[:shift]):
            ordered.append(replace(item, order=position))
    return ordered


def calibrated(batch: Sequence[PlannedCell], stored: Sequence[StoredCell]
               ) -> list[PlannedCell]:
    """The batch with each cell's windows starting at the steps per window its first stored
    process calibrated: later rounds calibrate once, not again (timing.measure)."""
    steps = {cell.spec.key: found for cell in stored
             if (found := next((d["steps_per_window"] for d in cell.details
                                if isinstance(d.get("steps_per_window"), int)), None))}
    return [replace(item, cell=replace(item.cell, measure=replace(
                item.cell.measure, start_steps=max(1, steps[item.cell.key]))))
            if item.cell.key in steps else item for item in batch]


def _median_of(metric: str) -> Callable[[StoredCell], float]:
    return lambda cell: stats.median(cell.samples[metric])


def compared_variants(planned: Sequence[PlannedCell]
                      ) -> dict[tuple[str, str, str, ThreadSettings, int], list[tuple[str, str]]]:
    """The (framework, mode) variants a run compares, by (workload, size, device, threads,
    seed): what its same-model checks must prove the same."""
    groups: dict[tuple[str, str, str, ThreadSettings, int], list[tuple[str, str]]] = {}
    for item in planned:
        cell = item.cell
        if not SCENARIOS[cell.scenario].compared:
            continue  # no verdict compares these cells, so nothing needs proving the same
        key = (cell.workload, cell.size, cell.device, cell.threads, cell.seed)
        variants = groups.setdefault(key, [])
        if (cell.framework, cell.mode) not in variants:
            variants.append((cell.framework, cell.mode))
    return groups


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
    groups = compared_variants(planned)
    # Checks still to make, by what one worker process shares: one per framework and mode
    # probes every workload of its group (parity.check.check_many).
    needed: dict[tuple[str, str, ThreadSettings, int], list[_Check]] = {}
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
            _save_checks(store, run_id, _Check(workload, variants, pairs, keys), results)
            continue
        observer.checking(workload, [f"{framework}/{mode}" for framework, mode in variants])
        needed.setdefault((size, device, threads, seed), []).append(
            _Check(workload, variants, pairs, keys))
    for (size, device, threads, seed), checks in needed.items():
        found = check_many([(check.workload, check.variants) for check in checks], size=size,
                           device=device, threads=threads, executor=executor, seed=seed,
                           parallel=check_processes(device, threads))
        for check, results in zip(checks, found, strict=True):
            observer.checked(results, cached=False)
            _save_checks(store, run_id, check, results)


@dataclass(frozen=True)
class _Check:
    """One workload's pairs to prove the same, and each pair's cache key."""

    workload: str
    variants: list[tuple[str, str]]
    pairs: list[tuple[tuple[str, str], tuple[str, str]]]
    keys: dict[tuple[tuple[str, str], tuple[str, str]], str]


def _save_checks(store: Store, run_id: int, check: _Check,
                 results: Sequence[ParityResult]) -> None:
    # Both come in the order of `pairs`.
    for pair, result in zip(check.pairs, results, strict=True):
        store.save_parity(run_id, check.keys[pair], result)
