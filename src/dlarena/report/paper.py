"""A run's training throughput beside a published table (Paszke et al. 2019, Table 1).

The layout is the published table's: frameworks as rows, models as columns. Every framework
the run measured gets a row, and every other framework gets its ratios against one reference
framework (by default the published table's own), so no framework is special in this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlarena import registry
from dlarena.analysis.stats import CONFIDENCE
from dlarena.analysis.verdict import Verdict
from dlarena.report import formatting as fmt
from dlarena.report.model import CellReport, Group, Report
from dlarena.report.published import PASZKE_2019, Figure, PublishedTable

MISSING = "–"

Line = tuple[str, tuple[str, ...]]  # a row's label, then one cell per model


@dataclass(frozen=True)
class PaperTable:
    reference: str
    frameworks: tuple[str, ...]  # measured by the run; the reference first when measured
    columns: tuple[str, ...]  # the source's model names, in its order
    units: tuple[str, ...]  # of each column's throughput
    rows: tuple[Line, ...]  # per framework: measured here, then the published figures
    ratio_rows: tuple[Line, ...]  # per other framework: its ratios to the reference
    # Per model (not per framework, unlike `rows`): the model, its size · batch, then each
    # framework's GFLOP/s and % of the matmul peak.
    gflops_rows: tuple[tuple[str, ...], ...]

    @property
    def header(self) -> tuple[str, ...]:
        return ("", *(f"{column} ({u})"
                      for column, u in zip(self.columns, self.units, strict=True)))

    @property
    def lines(self) -> tuple[tuple[str, ...], ...]:
        """Throughput and ratio rows as a renderer prints them, the label first."""
        return tuple((label, *cells) for label, cells in (*self.rows, *self.ratio_rows))

    @property
    def gflops_header(self) -> tuple[str, ...]:
        return ("model", "size · batch",
                *(f"{framework} {what}" for framework in self.frameworks
                  for what in ("GFLOP/s", "% of peak")))


@dataclass(frozen=True)
class _Model:
    """A column: one model of the published table, as this run trained it."""

    name: str  # the source's
    group: Group
    cells: dict[str, CellReport]  # framework -> its default-mode cell that measured the metric


def _metric(table: PublishedTable) -> str:
    return f"{table.scenario}_throughput"


def _reference(table: PublishedTable, reference: str | None) -> str:
    return table.reference if reference is None else reference


def _models(report: Report, table: PublishedTable) -> list[_Model]:
    """The table's models that this run measured, in the table's order."""
    metric = _metric(table)
    found: dict[str, _Model] = {}
    for group in report.groups:
        # A batch-size sweep puts a model in several groups; the source has one column per
        # model, so the first group measured stands for it (its batch is printed beside it).
        if (group.scenario != table.scenario or group.workload not in table.columns
                or group.workload in found):
            continue
        cells: dict[str, CellReport] = {}
        for cell in group.cells:
            if cell.in_default_mode and cell.stored.ok and metric in cell.summaries:
                cells.setdefault(cell.stored.spec.framework, cell)
        if cells:
            found[group.workload] = _Model(table.columns[group.workload], group, cells)
    return [found[workload] for workload in table.columns if workload in found]


def _frameworks(models: list[_Model], reference: str) -> tuple[str, ...]:
    """Every framework measured in any column, the reference first, the others as met."""
    measured = dict.fromkeys(framework for model in models for framework in model.cells)
    return tuple(sorted(measured, key=lambda framework: framework != reference))


def _figure(figure: Figure | None) -> str:
    return f"{fmt.number(figure.value)} {figure.spread}" if figure else MISSING


def _median(model: _Model, framework: str, metric: str) -> str:
    cell = model.cells.get(framework)
    return fmt.number(cell.summaries[metric].median) if cell is not None else MISSING


def not_measured(report: Report, table: PublishedTable = PASZKE_2019,
               reference: str | None = None) -> dict[str, str]:
    """The table's frameworks that this run did not measure, each with one line saying why:
    as the run recorded it (not installed, not runnable here), else as the framework's own
    folder states it, else that the run did not ask for it."""
    measured = _frameworks(_models(report, table), _reference(table, reference))
    recorded = report.run.environment.get("frameworks_not_runnable") or {}
    known = registry.frameworks()
    reasons: dict[str, str] = {}
    for framework in table.rows:
        if framework in measured:
            continue
        info = known.get(framework)
        reasons[framework] = (recorded.get(framework)
                              or (f"not runnable here: {info.unavailable}"
                                  if info is not None and info.unavailable else None)
                              or "not measured by this run (not asked for, or its cells "
                                 "failed)")
    return reasons


def _short(reason: str) -> str:
    """A table cell for an unmeasured framework: the reason's opening words."""
    for opening in ("not runnable here", "not installed here", "not installed"):
        if reason.startswith(opening):
            return opening
    return "not measured"


def _throughput_rows(models: list[_Model], frameworks: tuple[str, ...],
                     table: PublishedTable, missing: dict[str, str]) -> tuple[Line, ...]:
    metric = _metric(table)
    rows: list[Line] = []
    for framework in (*frameworks, *missing):
        if framework in missing:
            rows.append((f"{framework} (here)", tuple(_short(missing[framework])
                                                      for _ in models)))
        else:
            rows.append((f"{framework} (here)", tuple(
                _median(model, framework, metric) for model in models)))
        published = table.rows.get(framework)
        if published is not None:
            rows.append((f"{framework} (paper)", tuple(
                _figure(published.get(model.group.workload)) for model in models)))
    return tuple(rows)


def _ratio_text(verdict: Verdict) -> str:
    if not verdict.comparable:
        return "not comparable"
    if verdict.interval is None:
        return f"{verdict.ratio:.2f}"
    low, high = verdict.interval
    return f"{verdict.ratio:.2f} ({low:.2f}–{high:.2f})"


def _measured_ratio(report: Report, model: _Model, framework: str, reference: str,
                    metric: str) -> str:
    cell, base = model.cells.get(framework), model.cells.get(reference)
    if cell is None or base is None:
        return MISSING
    return _ratio_text(report.verdict(model.group.workload, metric, cell, base))


def _ratio_rows(report: Report, models: list[_Model], frameworks: tuple[str, ...],
                reference: str, table: PublishedTable) -> tuple[Line, ...]:
    metric = _metric(table)
    rows: list[Line] = []
    for framework in frameworks:
        if framework == reference:
            continue
        pair = f"{framework} / {reference}"
        rows.append((f"{pair} (here, {CONFIDENCE:.0%} CI)", tuple(
            _measured_ratio(report, model, framework, reference, metric) for model in models)))
        published = [table.ratio(framework, reference, model.group.workload)
                     for model in models]
        if any(ratio is not None for ratio in published):
            rows.append((f"{pair} (paper)", tuple(
                f"{ratio:.2f}" if ratio is not None else MISSING for ratio in published)))
    return tuple(rows)


def _rate(cell: CellReport | None, peak: float | None) -> tuple[str, str]:
    """GFLOP/s and its share of the run's matmul peak."""
    gflops = cell.achieved_gflops if cell is not None else None
    if gflops is None:
        return MISSING, MISSING
    return fmt.number(gflops), fmt.percent(gflops / peak if peak else None)


def _gflops_rows(report: Report, models: list[_Model],
                 frameworks: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    peak = report.run.environment.get("matmul_peak_gflops")
    return tuple(
        (model.name, f"{model.group.size} · {model.group.batch_size}",
         *(text for framework in frameworks for text in _rate(model.cells.get(framework), peak)))
        for model in models)


def paper_table(report: Report, table: PublishedTable = PASZKE_2019,
                reference: str | None = None) -> PaperTable | None:
    """The run laid out as `table` is, with ratios against `reference`; None if none fits."""
    models = _models(report, table)
    if not models:
        return None
    against = _reference(table, reference)
    frameworks = _frameworks(models, against)
    return PaperTable(
        reference=against,
        frameworks=frameworks,
        columns=tuple(model.name for model in models),
        units=tuple(report.definitions.unit(_metric(table), model.group.workload)
                    for model in models),
        rows=_throughput_rows(models, frameworks, table, not_measured(report, table, against)),
        ratio_rows=_ratio_rows(report, models, frameworks, against, table),
        gflops_rows=_gflops_rows(report, models, frameworks),
    )


def _interval(verdict: Verdict) -> dict[str, Any]:
    low, high = verdict.interval or (None, None)
    return {"ratio": verdict.ratio, "ci_low": low, "ci_high": high,
            "comparable": verdict.comparable, "significant": verdict.significant}


def paper_document(report: Report, table: PublishedTable = PASZKE_2019,
                   reference: str | None = None) -> dict[str, Any] | None:
    """The figures of `paper_table` as numbers, for machines; None if no model fits."""
    models = _models(report, table)
    if not models:
        return None
    metric = _metric(table)
    against = _reference(table, reference)
    frameworks = _frameworks(models, against)
    peak = report.run.environment.get("matmul_peak_gflops")

    def entry(model: _Model, framework: str) -> dict[str, Any]:
        cell, base = model.cells.get(framework), model.cells.get(against)
        published = table.rows.get(framework, {}).get(model.group.workload)
        gflops = cell.achieved_gflops if cell is not None else None
        return {
            "median": cell.summaries[metric].median if cell is not None else None,
            "published": published.value if published else None,
            "published_spread": published.spread if published else None,
            "ratio_to_reference": (
                _interval(report.verdict(model.group.workload, metric, cell, base))
                if cell is not None and base is not None and framework != against else None),
            "published_ratio_to_reference": (table.ratio(framework, against,
                                                         model.group.workload)
                                             if framework != against else None),
            "achieved_gflops": gflops,
            "share_of_peak": gflops / peak if gflops is not None and peak else None,
        }

    return {
        "source": table.id, "citation": table.citation, "hardware": table.hardware,
        "metric": metric, "reference": against, "matmul_peak_gflops": peak,
        "not_measured": not_measured(report, table, against),
        "models": [
            {"workload": model.group.workload, "name": model.name, "size": model.group.size,
             "batch_size": model.group.batch_size,
             "unit": report.definitions.unit(metric, model.group.workload),
             "frameworks": {framework: entry(model, framework)
                            for framework in frameworks}}
            for model in models
        ],
    }


def paper_note(report: Report, table: PublishedTable = PASZKE_2019,
               reference: str | None = None) -> str:
    against = _reference(table, reference)
    measured = any(against in model.cells for model in _models(report, table))
    env = report.run.environment
    peak = env.get("matmul_peak_gflops")
    sources = ", ".join(f"{name} {fmt.number(value)}" if isinstance(value, float)
                        else f"{name} {value}"
                        for name, value in env.get("matmul_peaks_gflops", {}).items())
    ceiling = (f"Peak = the fastest float32 2048x2048 matrix product measured at the start of "
               f"the run, {fmt.number(peak)} GFLOP/s ({sources}). Above 100%: the framework "
               "does fewer multiply-adds than the direct count (e.g. Winograd convolutions). "
               if peak else "")
    unmeasured = ("" if measured else
                  f"The reference asked for, {against}, was not measured by this run, so no "
                  "ratio is measured. ")
    missing = "".join(f"{framework}: {reason}. "
                      for framework, reason in not_measured(report, table, against).items())
    return (f"Published: {table.citation}, on {table.hardware}; {table.conditions}. "
            "Absolute figures do not travel between machines; the ratios between frameworks "
            f"are what to compare: ratios against {against}. " + unmeasured
            + "GFLOP/s = analytic FLOPs per sample (training = 3 x forward) x samples/s. "
            + ceiling + ("Not measured here: " + missing if missing else ""))
