"""What every report format shows, built once from the store."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.measure import derived, stats
from dlarena.measure.verdict import Verdict, compare, instability_flags, not_comparable
from dlarena.metrics import METRICS
from dlarena.parity.compare import ParityResult
from dlarena.scenarios import SCENARIOS
from dlarena.store import Store, StoredCell, StoredRun
from dlarena.workloads.base import Workload


@dataclass(frozen=True)
class CellReport:
    stored: StoredCell
    # The steady-state metric of this cell's scenario (e.g. train_throughput), if measured.
    headline: str | None
    summaries: dict[str, stats.Summary]
    flags: tuple[str, ...]
    between_process_cv: float | None

    @property
    def label(self) -> str:
        spec = self.stored.spec
        return f"{spec.framework}/{spec.mode}"

    @property
    def in_default_mode(self) -> bool:
        """Measured in its framework's idiomatic default mode (eager PyTorch, tf.function)."""
        spec = self.stored.spec
        info = registry.frameworks().get(spec.framework)
        return info is not None and spec.mode == info.default_mode


@dataclass(frozen=True)
class Group:
    """Cells that measure the same thing in different frameworks (or modes)."""

    workload: str
    scenario: str
    size: str
    batch_size: int
    device: str
    cells: list[CellReport]
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def headline(self) -> str | None:
        return next((c.headline for c in self.cells if c.headline), None)

    def flagged(self, verdict: Verdict) -> list[str]:
        """Labels of the verdict's cells whose figures are flagged as unstable."""
        return [c.label for c in self.cells
                if c.flags and c.label in (verdict.first, verdict.second)]

    def ratio_to_first(self, cell: CellReport) -> float | None:
        """Median of `cell` over the first measured cell's, on the headline metric."""
        metric = self.headline
        measured = [c for c in self.cells if metric in c.summaries]
        if metric is None or not measured or metric not in cell.summaries:
            return None
        return cell.summaries[metric].median / measured[0].summaries[metric].median


@dataclass(frozen=True)
class Report:
    run: StoredRun
    groups: list[Group]
    parity: list[ParityResult] = field(default_factory=list)

    def verdict(self, workload: str, metric: str, first: CellReport,
                second: CellReport) -> Verdict:
        """first vs second on `metric`; "not comparable" when their frameworks failed parity."""
        parity = self.parity_of(workload, first.stored.spec.framework,
                                second.stored.spec.framework)
        a, b = first.stored.samples[metric], second.stored.samples[metric]
        if parity is not None and not parity.passed:
            return not_comparable(metric, first.label, a, second.label, b, parity.reason or "")
        return compare(metric, first.label, a, second.label, b)

    def parity_of(self, workload: str, first: str, second: str) -> ParityResult | None:
        for result in self.parity:
            if result.workload == workload and {result.first, result.second} == {first, second}:
                return result
        return None

    @property
    def unchecked_pairs(self) -> list[tuple[str, str, str]]:
        """(workload, framework, framework) compared by a verdict without a parity check."""
        pairs = []
        for group in self.groups:
            frameworks = list(dict.fromkeys(c.stored.spec.framework for c in group.cells))
            for first, second in itertools.combinations(frameworks, 2):
                if self.parity_of(group.workload, first, second) is None:
                    pairs.append((group.workload, first, second))
        return list(dict.fromkeys(pairs))

    def manifest(self) -> dict[str, dict[str, str]]:
        """framework/mode -> setting -> value(s), from every successful cell."""
        table: dict[str, dict[str, list[str]]] = {}
        for cell in self.cells:
            for details in cell.stored.details:
                for key, value in details.get("manifest", {}).items():
                    values = table.setdefault(cell.label, {}).setdefault(key, [])
                    if str(value) not in values:
                        values.append(str(value))
        return {label: {k: " / ".join(v) for k, v in sorted(settings.items())}
                for label, settings in table.items()}

    @property
    def cells(self) -> list[CellReport]:
        return [cell for group in self.groups for cell in group.cells]

    @property
    def failed(self) -> list[CellReport]:
        return [cell for cell in self.cells if not cell.stored.ok]


def _headline(cell: StoredCell) -> str | None:
    scenario = SCENARIOS.get(cell.spec.scenario)
    return scenario.headline if scenario and scenario.headline in cell.samples else None


def _cell_report(cell: StoredCell) -> CellReport:
    summaries = {name: stats.summarize(values) for name, values in cell.samples.items() if values}
    headline = _headline(cell)
    flags: list[str] = []
    between = None
    if headline is not None:
        between = stats.between_process_cv(cell.samples_by_process.get(headline, []))
        flags = instability_flags(
            summaries[headline], cell.details, cell.spec.measure.min_window_seconds, between,
            windowed=SCENARIOS[cell.spec.scenario].windowed,
        )
    if not cell.ok and cell.samples:
        flags.append(f"{cell.statuses.count('error')} of {cell.processes} processes failed")
    return CellReport(cell, headline, summaries, tuple(flags), between)


def build_report(store: Store, run_id: int | None = None) -> Report:
    runs = store.runs()
    if not runs:
        raise LookupError(f"{store.path} holds no runs yet: run `dlarena run` first")
    run = runs[-1] if run_id is None else store.run(run_id)
    groups: dict[tuple[str, str, str, int, str], list[CellReport]] = {}
    for cell in store.cells(run.id):
        spec = cell.spec
        key = (spec.workload, spec.scenario, spec.size, spec.batch_size, spec.device)
        groups.setdefault(key, []).append(_cell_report(cell))
    report = Report(run, [], store.parity(run.id))
    for (workload, scenario, size, batch, device), cells in groups.items():
        group = Group(workload, scenario, size, batch, device, cells)
        metric = group.headline
        if metric is not None:
            measured = [c for c in cells if metric in c.summaries]
            pairs: Iterable[tuple[CellReport, CellReport]] = itertools.combinations(measured, 2)
            if len(measured) > 2:
                # Many variants (modes): rank them, and compare each with the next one down.
                ranked = sorted(measured, key=lambda c: c.summaries[metric].median,
                                reverse=METRICS[metric].higher_is_better is True)
                pairs = itertools.pairwise(ranked)
            group.verdicts.extend(report.verdict(workload, metric, first, second)
                                  for first, second in pairs)
        report.groups.append(group)
    return report


@dataclass(frozen=True)
class Sweep:
    """Headline medians against batch size, per framework/mode, and where the lead changes."""

    workload: str
    scenario: str
    metric: str
    series: dict[str, dict[int, stats.Summary]]
    crossovers: list[derived.Crossover]


def sweeps(report: Report) -> list[Sweep]:
    found: dict[tuple[str, str, str], dict[str, dict[int, stats.Summary]]] = {}
    for group in report.groups:
        metric = group.headline
        for cell in group.cells:
            if metric is not None and metric in cell.summaries:
                key = (group.workload, group.scenario, metric)
                found.setdefault(key, {}).setdefault(cell.label, {})[group.batch_size] = (
                    cell.summaries[metric])
    result = []
    for (workload, scenario, metric), series in found.items():
        sizes = {size for values in series.values() for size in values}
        if len(sizes) < 2:
            continue
        medians = {label: {size: s.median for size, s in values.items()}
                   for label, values in series.items()}
        result.append(Sweep(workload, scenario, metric, series, derived.crossovers(
            medians, higher_is_better=METRICS[metric].higher_is_better is True)))
    return result


@dataclass(frozen=True)
class BreakEven:
    workload: str
    candidate: str  # framework/mode that starts slower
    baseline: str
    extra_start_seconds: float
    batch_size: int
    baseline_step_seconds: float
    candidate_step_seconds: float
    steps: float | None  # None: never repaid

    @property
    def text(self) -> str:
        gap = (f"{self.candidate} needs {self.extra_start_seconds:+.2f} s to a first result vs "
               f"{self.baseline}, and {1e3 * self.candidate_step_seconds:.3g} ms vs "
               f"{1e3 * self.baseline_step_seconds:.3g} ms per training step "
               f"(batch {self.batch_size})")
        if self.steps is None:
            return f"{gap}: never repaid, it is not faster per step"
        if self.steps == 0:
            return f"{gap}: nothing to repay"
        return f"{gap}: repaid after {self.steps:,.0f} steps"


def break_evens(report: Report) -> list[BreakEven]:
    """For each compiled mode: after how many training steps its start-up cost is repaid."""
    startup: dict[tuple[str, str, str], float] = {}
    train: dict[tuple[str, str, str], tuple[int, float]] = {}
    for cell in report.cells:
        spec = cell.stored.spec
        key = (spec.workload, spec.framework, spec.mode)
        first_result = cell.summaries.get("time_to_first_result_seconds")
        if spec.scenario == "startup" and first_result:
            startup[key] = first_result.median
        throughput = cell.summaries.get("train_throughput")
        if spec.scenario == "train" and throughput:
            train[key] = (spec.batch_size, items_per_step(spec) / throughput.median)
    results = []
    for (workload, framework, mode), start in startup.items():
        baseline_mode = "eager"
        base = (workload, framework, baseline_mode)
        if mode == baseline_mode or base not in startup or base not in train:
            continue
        candidate = (workload, framework, mode)
        if candidate not in train or train[candidate][0] != train[base][0]:
            continue
        batch, candidate_step = train[candidate]
        base_step = train[base][1]
        extra = start - startup[base]
        results.append(BreakEven(
            workload, f"{framework}/{mode}", f"{framework}/{baseline_mode}", extra, batch,
            base_step, candidate_step, derived.break_even_steps(extra, base_step, candidate_step),
        ))
    return results


THROUGHPUTS = ("train_throughput", "infer_throughput")


def _workload(name: str) -> Workload | None:
    """The workload's definition; None for one that no longer exists (an old stored run)."""
    return registry.workloads().get(name)


def unit(metric: str, workload: str | None = None) -> str:
    """The metric's unit; a throughput counts the workload's own (images/s, tokens/s, …)."""
    found = _workload(workload) if workload is not None else None
    if metric in THROUGHPUTS and found is not None:
        return f"{found.unit}/s"
    return METRICS[metric].unit if metric in METRICS else ""


def quality(workload: str) -> str:
    """What a convergence cell's val_accuracy measures for this workload (hit rate@10, …)."""
    found = _workload(workload)
    return found.quality if found is not None else "accuracy"


def items_per_step(spec: CellSpec) -> int:
    """Units of throughput in one step of the cell (a batch of images, or of its tokens)."""
    found = _workload(spec.workload)
    return spec.batch_size * (found.items_per_sample(spec.size) if found is not None else 1)


def achieved_gflops(cell: CellReport) -> float | None:
    """FLOP rate of a train or infer cell at its median throughput (analytic FLOPs)."""
    spec = cell.stored.spec
    workload = _workload(spec.workload)
    metric = cell.headline
    if workload is None or metric not in THROUGHPUTS or metric not in cell.summaries:
        return None
    flops = (workload.train_flops(spec.size) if metric == "train_throughput"
             else workload.forward_flops(spec.size))
    return derived.gflops(cell.summaries[metric].median, workload.items_per_sample(spec.size),
                          flops)
