"""A stored run -> a Report: summaries and flags per cell, and which pairs get a verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from dlarena.analysis import stats
from dlarena.analysis.metrics import METRICS
from dlarena.analysis.verdict import compared_pairs, instability_flags
from dlarena.report import control as aa
from dlarena.report.facts import Definitions
from dlarena.report.model import CellReport, Group, Report
from dlarena.scenarios import SCENARIOS, swept_options
from dlarena.store import Store, StoredCell


def _headline(cell: StoredCell) -> str | None:
    scenario = SCENARIOS.get(cell.spec.scenario)
    return scenario.headline if scenario and scenario.headline in cell.samples else None


def _cell_report(cell: StoredCell, ceiling_gflops: float | None,
                 definitions: Definitions) -> CellReport:
    summaries = {name: stats.summarize(per_process)
                 for name, per_process in cell.samples_by_process.items()
                 if stats.pooled(per_process)}
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
    report = CellReport(cell, headline, summaries, tuple(flags), between, definitions)
    rate = report.achieved_gflops
    if ceiling_gflops and rate is not None and rate > ceiling_gflops:
        # Above what the hardware can do: the count of FLOPs or the clock is wrong, not fast.
        report = dataclasses.replace(report, flags=(
            *report.flags, f"impossible: {rate:.3g} GFLOP/s > physical ceiling "
                           f"{ceiling_gflops:.3g}"))
    return report


def build_report(store: Store, run_id: int | None = None, *, control: bool = True) -> Report:
    """The run's report (the latest run without `run_id`), with the machine's latest A/A
    control beside its verdicts unless `control` is False."""
    runs = store.runs()
    if not runs:
        raise LookupError(f"{store.path} holds no runs yet: run `dlarena run` first")
    run = runs[-1] if run_id is None else store.run(run_id)
    stored = run.environment.get("definitions")
    # A run stored before snapshots existed has none: today's code is all there is.
    definitions = Definitions.current() if stored is None else Definitions.from_json(stored)
    groups: dict[tuple[str, str, str, int, str, str], list[CellReport]] = {}
    for cell in store.cells(run.id):
        spec = cell.spec
        # Swept options (loader workers, file format) split groups: verdicts compare
        # frameworks at the same setting.
        key = (spec.workload, spec.scenario, spec.size, spec.batch_size, spec.device,
               swept_options(spec))
        groups.setdefault(key, []).append(
            _cell_report(cell, run.environment.get("physical_ceiling_gflops"), definitions))
    report = Report(run, [Group(workload, scenario, size, batch, device, cells)
                          for (workload, scenario, size, batch, device, _), cells
                          in groups.items()],
                    definitions, store.parity(run.id), definitions_stored=stored is not None,
                    phases=store.run_phases(run.id))
    # Verdicts once every group is in: they learn the run's noise from all of them.
    for group in report.groups:
        metric = group.headline
        if metric is not None:
            measured = [c for c in group.cells if metric in c.summaries]
            pairs = compared_pairs(measured, _median_of(metric),
                                   METRICS[metric].higher_is_better)
            group.verdicts.extend(report.verdict(group.workload, metric, first, second)
                                  for first, second in pairs)
    session = aa.latest_session(runs, run) if control else []
    if session:
        framework = aa.twin_framework(session[-1]) or ""
        found = aa.tally(framework, session, lambda stored: [
            verdict for group in build_report(store, stored.id, control=False).groups
            for verdict in group.verdicts])
        report = dataclasses.replace(report, control=found)
    return report


def _median_of(metric: str) -> Callable[[CellReport], float]:
    return lambda cell: cell.summaries[metric].median
