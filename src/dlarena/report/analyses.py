"""Analyses across cells of one run: batch-size sweeps, and when compiling pays off."""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.analysis import derived, stats
from dlarena.analysis.metrics import METRICS
from dlarena.report.model import Report


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
            train[key] = (spec.batch_size,
                          report.definitions.items_per_step(spec) / throughput.median)
    results = []
    for (workload, framework, mode), start in startup.items():
        baseline_mode = report.definitions.eager_mode(framework)
        base = (workload, framework, baseline_mode)
        if baseline_mode is None or mode == baseline_mode or base not in startup \
                or base not in train:
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
