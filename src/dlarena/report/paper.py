"""A run's training throughput beside a published table (Paszke et al. 2019, Table 1)."""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.measure.verdict import Verdict
from dlarena.report import formatting as fmt
from dlarena.report.facts import unit
from dlarena.report.model import CellReport, Report
from dlarena.report.published import PASZKE_2019, PublishedTable

FIRST, SECOND = "torch", "tensorflow"


@dataclass(frozen=True)
class PaperRow:
    workload: str
    column: str  # the source's name for the model
    unit: str
    size: str
    batch_size: int
    measured: dict[str, float]  # framework -> median throughput
    gflops: dict[str, float]
    verdict: Verdict | None  # torch vs tensorflow, ratio = torch / tensorflow
    published_ratio: float | None


def _default_cell(cells: list[CellReport], framework: str) -> CellReport | None:
    return next((c for c in cells if c.stored.spec.framework == framework
                 and c.in_default_mode and c.stored.ok), None)


def paper_rows(report: Report, table: PublishedTable = PASZKE_2019) -> list[PaperRow]:
    """One row per model of `table` that this run trained in both frameworks' default modes."""
    metric = f"{table.scenario}_throughput"
    rows = []
    for group in report.groups:
        if group.scenario != table.scenario or group.workload not in table.columns:
            continue
        pair = [_default_cell(group.cells, framework) for framework in (FIRST, SECOND)]
        measured_cells = [c for c in pair if c is not None and metric in c.summaries]
        if not measured_cells:
            continue
        first, second = pair
        verdict = (report.verdict(group.workload, metric, first, second)
                   if first is not None and second is not None
                   and metric in first.summaries and metric in second.summaries else None)
        rows.append(PaperRow(
            workload=group.workload, column=table.columns[group.workload],
            unit=unit(metric, group.workload), size=group.size, batch_size=group.batch_size,
            measured={c.stored.spec.framework: c.summaries[metric].median for c in measured_cells},
            gflops={c.stored.spec.framework: g for c in measured_cells
                    if (g := c.achieved_gflops) is not None},
            verdict=verdict,
            published_ratio=table.ratio(FIRST, SECOND, group.workload),
        ))
    return rows


PAPER_HEADER = ("model", "size · batch", "unit", "torch", "tensorflow", "torch/TF here (95% CI)",
                "torch (paper)", "TF (paper)", "torch/TF paper", "GFLOP/s torch · TF",
                "% of peak torch · TF")


def paper_table(report: Report, table: PublishedTable = PASZKE_2019) -> list[list[str]]:
    peak = report.run.environment.get("matmul_peak_gflops")
    lines = []
    for row in paper_rows(report, table):
        published = [table.rows[f].get(row.workload) for f in (FIRST, SECOND)]
        ratio = "–"
        if row.verdict is not None:
            ratio = f"{row.verdict.ratio:.2f}"
            if row.verdict.interval is not None:
                low, high = row.verdict.interval
                ratio += f" ({low:.2f}–{high:.2f})"
            if not row.verdict.comparable:
                ratio += " not comparable"
        gflops = [row.gflops.get(f) for f in (FIRST, SECOND)]
        lines.append([
            row.column, f"{row.size} · {row.batch_size}", row.unit,
            *(fmt.number(row.measured[f]) if f in row.measured else "–" for f in (FIRST, SECOND)),
            ratio,
            *(f"{fmt.number(p.value)} {p.spread}" if p else "–" for p in published),
            f"{row.published_ratio:.2f}" if row.published_ratio else "–",
            " · ".join(fmt.number(g) if g is not None else "–" for g in gflops),
            " · ".join(f"{g / peak:.1%}" if g is not None and peak else "–" for g in gflops),
        ])
    return lines


def paper_note(report: Report, table: PublishedTable = PASZKE_2019) -> str:
    env = report.run.environment
    peak = env.get("matmul_peak_gflops")
    sources = ", ".join(f"{name} {fmt.number(value)}" if isinstance(value, float)
                        else f"{name} {value}"
                        for name, value in env.get("matmul_peaks_gflops", {}).items())
    ceiling = (f"Peak = the fastest float32 2048x2048 matrix product measured at the start of "
               f"the run, {fmt.number(peak)} GFLOP/s ({sources}). Above 100%: the framework "
               "does fewer multiply-adds than the direct count (e.g. Winograd convolutions). "
               if peak else "")
    return (f"Published: {table.citation}, on {table.hardware}; {table.conditions}. "
            "Absolute figures do not travel between machines; the torch/TF ratio is what to "
            "compare. GFLOP/s = analytic FLOPs per sample (training = 3 x forward) x samples/s. "
            + ceiling)
