"""What every report format shows, built once from the store."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

from dlarena.measure import stats
from dlarena.measure.verdict import Verdict, compare, instability_flags, not_comparable
from dlarena.metrics import METRICS
from dlarena.parity.compare import ParityResult
from dlarena.store import Store, StoredCell, StoredRun


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
    wanted = f"{cell.spec.scenario}_throughput"
    return wanted if wanted in cell.samples else None


def _cell_report(cell: StoredCell) -> CellReport:
    summaries = {name: stats.summarize(values) for name, values in cell.samples.items() if values}
    headline = _headline(cell)
    flags: list[str] = []
    between = None
    if headline is not None:
        between = stats.between_process_cv(cell.samples_by_process.get(headline, []))
        flags = instability_flags(
            summaries[headline], cell.details, cell.spec.measure.min_window_seconds, between
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
            for first, second in itertools.combinations(measured, 2):
                parity = report.parity_of(workload, first.stored.spec.framework,
                                          second.stored.spec.framework)
                judge = compare if parity is None or parity.passed else functools.partial(
                    not_comparable, reason=parity.reason or "")
                group.verdicts.append(judge(
                    metric, first.label, first.stored.samples[metric],
                    second.label, second.stored.samples[metric],
                ))
        report.groups.append(group)
    return report


def unit(metric: str) -> str:
    return METRICS[metric].unit if metric in METRICS else ""
