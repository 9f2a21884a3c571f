"""The deployment section's figures (inline SVG): load time and file size of each saved
format, portable runtimes' throughput beside the framework's, latency under load."""

from __future__ import annotations

from collections.abc import Sequence

from dlarena.report.deployment import EXPORT_SCENARIOS, SAVE_SCENARIOS, load_curves
from dlarena.report.formatting import number
from dlarena.report.model import CellReport, Report
from dlarena.report.plots import FigureStyle, headless_pyplot, inline_svg
from dlarena.scenarios.deployment import P99_REQUESTS


def _workloads(cells: Sequence[CellReport]) -> list[str]:
    return list(dict.fromkeys(cell.stored.spec.workload for cell in cells))


def _panel_bars(axes: object, bars: list[tuple[str, float, str]]) -> None:
    positions = range(len(bars))
    axes.bar(positions, [value for _, value, _ in bars],  # type: ignore[attr-defined]
             color=[colour for _, _, colour in bars])
    axes.set_xticks(list(positions), [label for label, _, _ in bars],  # type: ignore[attr-defined]
                    rotation=30, ha="right")
    for position, (_, value, _) in zip(positions, bars, strict=True):
        axes.annotate(number(value), (position, value),  # type: ignore[attr-defined]
                      textcoords="offset points", xytext=(0, 2), ha="center", fontsize=7)
    axes.spines[["top", "right"]].set_visible(False)  # type: ignore[attr-defined]


def _figure(report: Report, style: FigureStyle, scenarios: tuple[str, ...],
            panels: Sequence[tuple[str, str, float]], label_of: str) -> str | None:
    """A row of panels per metric, one column per workload; a bar per framework x scenario."""
    cells = [c for c in report.cells if c.stored.spec.scenario in scenarios and c.stored.ok]
    workloads = _workloads(cells)
    if not workloads:
        return None
    plt = headless_pyplot()
    figure, axes = plt.subplots(len(panels), len(workloads),
                                figsize=(2.8 * len(workloads), 2.6 * len(panels)),
                                squeeze=False)
    for row, (metric, unit, scale) in enumerate(panels):
        for column, workload in enumerate(workloads):
            bars = []
            for cell in cells:
                summary = cell.summaries.get(metric)
                if cell.stored.spec.workload != workload or summary is None:
                    continue
                what = cell.stored.spec.scenario.removeprefix(label_of)
                bars.append((f"{cell.stored.spec.framework} {what}", summary.median / scale,
                             style.colour(cell.stored.spec.framework)))
            panel = axes[row][column]
            _panel_bars(panel, bars)
            panel.set_title(workload if row == 0 else "")
            if column == 0:
                panel.set_ylabel(unit)
    figure.tight_layout()
    return inline_svg(figure)


def save_figure(report: Report, style: FigureStyle) -> str | None:
    return _figure(report, style, SAVE_SCENARIOS,
                   (("load_seconds", "load, fresh process (s)", 1.0),
                    ("file_bytes", "file size (MiB)", 2**20)), "save-")


def portable_figure(report: Report, style: FigureStyle) -> str | None:
    cells = [c for c in report.cells if c.stored.spec.scenario in EXPORT_SCENARIOS]
    if not cells:
        return None
    return _figure(report, style, EXPORT_SCENARIOS,
                   (("portable_speedup", "runtime / framework throughput", 1.0),
                    ("export_bytes", "exported size (MiB)", 2**20)), "export-")


def load_curve_figure(report: Report, style: FigureStyle) -> str | None:
    """Latency against the offered Poisson arrival rate, per workload a panel and per
    framework a colour: p99 solid, p50 dashed; a hollow marker is a level whose p99 rests on
    fewer than 1000 requests (its time bound cut it short)."""
    curves = load_curves(report)
    workloads = list(dict.fromkeys(workload for workload, _, _ in curves))
    if not workloads:
        return None
    plt = headless_pyplot()
    figure, axes = plt.subplots(1, len(workloads), figsize=(3.2 * len(workloads), 2.8),
                                squeeze=False)
    for panel, workload in zip(axes[0], workloads, strict=True):
        for name, label, points in curves:
            if name != workload:
                continue
            colour = style.colour(label.partition("/")[0])
            rates = [point.offered for point in points]
            panel.plot(rates, [1e3 * point.p99 for point in points], color=colour,
                       label=f"{label} p99")
            for point in points:
                short = point.requests is not None and point.requests < P99_REQUESTS
                panel.plot([point.offered], [1e3 * point.p99], marker="o", color=colour,
                           markerfacecolor="none" if short else colour)
            medians = [(point.offered, 1e3 * point.p50) for point in points
                       if point.p50 is not None]
            if medians:
                panel.plot([rate for rate, _ in medians], [p50 for _, p50 in medians],
                           color=colour, linestyle="--", label=f"{label} p50")
        panel.set_yscale("log")
        panel.set_title(workload)
        panel.set_xlabel("offered requests/s (Poisson)")
        panel.spines[["top", "right"]].set_visible(False)
        panel.legend(fontsize=7, frameon=False)
    axes[0][0].set_ylabel("latency (ms, log)")
    figure.tight_layout()
    return inline_svg(figure)
