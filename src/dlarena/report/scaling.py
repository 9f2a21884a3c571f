"""Data-parallel scaling efficiency: how much of N processes' worth of speed N ranks deliver.

efficiency(N) = throughput at N ranks / (N x throughput at 1 rank), per workload and
framework/mode, from train-ddp cells of one group. The plan gives N ranks the same global
batch (each rank a 1/N shard) and the same machine (each rank 1/N of the threads one process
would use), so this is strong scaling on one machine: 1.0 means data parallel costs nothing
beyond what splitting the work between processes instead of threads saves or costs. The
interval is the ratio's (paired over the rounds both cells ran in where there are two or
more, else between processes), divided by N.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.analysis import stats
from dlarena.report.model import CellReport, Report, data_parallel_failure
from dlarena.report.plots import FigureStyle, headless_pyplot, inline_svg

HEADER = ("workload", "framework", "ranks", "samples/s (median)",
          f"efficiency ({stats.CONFIDENCE:.0%} CI)", "same model (ranks vs expected step)")
METRIC = "train_throughput"


@dataclass(frozen=True)
class Scaling:
    workload: str
    variant: str  # framework/mode
    ranks: int
    throughput: float
    efficiency: float
    interval: tuple[float, float] | None
    # Why the ranks are not the same model as one process (the check failed), or None.
    failed: str | None


def _ranks(cell: CellReport) -> int:
    return int(cell.stored.spec.options.get("ranks", 1))


def scalings(report: Report) -> list[Scaling]:
    """Every N > 1 cell of a train-ddp group beside its own framework/mode's 1-rank cell."""
    found = []
    for group in report.groups:
        if group.scenario != "train-ddp":
            continue
        single = {"/".join(c.variant): c for c in group.cells
                  if _ranks(c) == 1 and METRIC in c.summaries}
        for cell in group.cells:
            variant = "/".join(cell.variant)
            one = single.get(variant)
            ranks = _ranks(cell)
            if ranks == 1 or one is None or METRIC not in cell.summaries:
                continue
            a, b = cell.stored.by_round(METRIC), one.stored.by_round(METRIC)
            efficiency, interval = stats.scaling_efficiency(a, b, ranks)
            found.append(Scaling(
                group.workload, variant, ranks, cell.summaries[METRIC].median, efficiency,
                interval,
                data_parallel_failure(cell) or data_parallel_failure(one)))
    return found


def rows(report: Report) -> list[list[str]]:
    """The scaling table, one row per N-rank cell."""
    return [[found.workload, found.variant, str(found.ranks), f"{found.throughput:.4g}",
             f"{found.efficiency:.2f}" + ("" if found.interval is None else
                                         f" ({found.interval[0]:.2f}–{found.interval[1]:.2f})"),
             "no: " + found.failed if found.failed else "yes"]
            for found in scalings(report)]


NOTE = ("Scaling efficiency = samples/s at N ranks / (N × samples/s at 1 rank), same global "
        "batch (each rank a 1/N shard) and the same threads in all (each rank 1/N of one "
        "process's): strong scaling on this machine. 1.0: data parallel costs nothing here.")


def figure(report: Report, style: FigureStyle) -> str | None:
    """Efficiency per workload and framework/mode at each N, with its interval; a line at
    1.0 (perfect scaling)."""
    found = scalings(report)
    if not found:
        return None
    plt = headless_pyplot()
    figure_, axes = plt.subplots(figsize=(5.0, 0.45 * len(found) + 1.2))
    places = list(range(len(found)))
    for place, scaling in zip(places, found, strict=True):
        low, high = scaling.interval or (scaling.efficiency, scaling.efficiency)
        axes.barh(place, scaling.efficiency, color=style.colour(scaling.variant.split("/")[0]),
                  hatch="//" if scaling.failed else None,
                  xerr=[[scaling.efficiency - low], [high - scaling.efficiency]], capsize=3)
    axes.axvline(1.0, color="black", linewidth=0.8, linestyle=":")
    axes.set_yticks(places, [f"{s.workload} · {s.variant} ×{s.ranks}" for s in found])
    axes.invert_yaxis()
    axes.set_xlabel("scaling efficiency (1.0 = N ranks are N× one)")
    axes.spines[["top", "right"]].set_visible(False)
    figure_.tight_layout()
    return inline_svg(figure_)
