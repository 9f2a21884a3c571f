"""Figures as inline SVG (matplotlib, Agg backend): no JavaScript, no network, any browser.

Every figure shows what the stats module computed; nothing is recomputed here.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dlarena.analysis.verdict import Verdict
from dlarena.report.analyses import Sweep
from dlarena.report.facts import Definitions
from dlarena.report.formatting import number
from dlarena.report.model import CellReport, Group, Report

# For a framework whose definition has no colour, in the order the report meets them.
_SPARE = ("#2ca02c", "#9467bd", "#8c564b", "#17becf", "#ff8f00", "#bcbd22", "#e377c2")


@dataclass(frozen=True)
class FigureStyle:
    """One report's look: its definitions (units, modes) and a colour per framework, the same
    in every figure of the report."""

    definitions: Definitions
    colours: dict[str, str]

    @classmethod
    def of(cls, report: Report) -> FigureStyle:
        colours: dict[str, str] = {}
        spare = itertools.cycle(_SPARE)
        for cell in report.cells:
            framework = cell.stored.spec.framework
            if framework not in colours:
                colours[framework] = report.definitions.colour(framework) or next(spare)
        return cls(report.definitions, colours)

    def colour(self, framework: str) -> str:
        return self.colours.get(framework, _SPARE[0])

    def line_style(self, label: str) -> str:
        """Solid for a framework's default and eager modes, dashed for its other compiled ones."""
        framework, _, mode = label.partition("/")
        definitions = self.definitions
        return ("-" if mode in (definitions.default_mode(framework),
                                definitions.eager_mode(framework)) else "--")


def inline_svg(figure: Any) -> str:
    """The figure as an SVG element to put inside HTML (no prolog, no metadata); closes it."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inline
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)


def headless_pyplot() -> Any:
    """matplotlib.pyplot drawing without a display, text kept as text in the SVG."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def _bars(axes: Any, cells: Sequence[CellReport], metric: str, style: FigureStyle,
          scale: float = 1.0) -> None:
    labels, medians, lows, highs, colours = [], [], [], [], []
    for cell in cells:
        summary = cell.summaries.get(metric)
        if summary is None:
            continue
        labels.append(cell.label)
        medians.append(summary.median / scale)
        low, high = summary.ci or (summary.median, summary.median)
        lows.append((summary.median - low) / scale)
        highs.append((high - summary.median) / scale)
        colours.append(style.colour(cell.stored.spec.framework))
    positions = range(len(labels))
    axes.bar(positions, medians, color=colours, yerr=[lows, highs], capsize=4,
             error_kw={"elinewidth": 1})
    axes.set_xticks(list(positions), labels, rotation=15, ha="right")
    for position, value in zip(positions, medians, strict=True):
        axes.annotate(number(value), (position, value), textcoords="offset points",
                      xytext=(0, 3), ha="center", fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    from matplotlib.ticker import FuncFormatter

    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: number(value)))


def throughput_figure(workload: str, groups: Sequence[Group], style: FigureStyle) -> str | None:
    """One panel per scenario: median throughput per framework, 95% CI as error bars."""
    measured = [g for g in groups if g.headline and g.headline.endswith("_throughput")
                and any(g.headline in c.summaries for c in g.cells)]
    if not measured:
        return None
    plt = headless_pyplot()
    figure, axes = plt.subplots(1, len(measured), figsize=(3.4 * len(measured), 2.9),
                                squeeze=False)
    for panel, group in zip(axes[0], measured, strict=True):
        metric = group.headline
        assert metric is not None
        _bars(panel, group.cells, metric, style)
        panel.set_title(f"{workload} · {group.scenario} (batch {group.batch_size})")
        panel.set_ylabel(style.definitions.unit(metric, workload))
    figure.tight_layout()
    return inline_svg(figure)


def memory_figure(groups: Sequence[Group], style: FigureStyle) -> str | None:
    """Peak RSS of the worker, per workload and scenario, per framework."""
    with_memory = [g for g in groups if g.scenario in ("train", "infer")
                   and any("peak_rss_bytes" in c.summaries for c in g.cells)]
    if not with_memory:
        return None
    plt = headless_pyplot()
    figure, axes = plt.subplots(1, len(with_memory), figsize=(2.6 * len(with_memory), 2.8),
                                squeeze=False, sharey=True)
    for panel, group in zip(axes[0], with_memory, strict=True):
        _bars(panel, group.cells, "peak_rss_bytes", style, scale=2**20)
        panel.set_title(f"{group.workload} · {group.scenario}")
    axes[0][0].set_ylabel("peak RSS (MiB)")
    figure.tight_layout()
    return inline_svg(figure)


def latency_figure(cells: Sequence[CellReport], style: FigureStyle) -> str | None:
    """Per-request latency per framework/mode: box = quartiles, whiskers = 1st-99th pct."""
    measured = [(cell, cell.stored.samples["latency_seconds"]) for cell in cells
                if cell.stored.samples.get("latency_seconds")]
    if not measured:
        return None
    plt = headless_pyplot()
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(measured)), 3.0))
    boxes = axes.boxplot([[1e3 * value for value in values] for _, values in measured],
                         whis=(1, 99), showfliers=False, patch_artist=True)
    for box, (cell, _) in zip(boxes["boxes"], measured, strict=True):
        box.set_facecolor(style.colour(cell.stored.spec.framework))
    axes.set_xticks(range(1, len(measured) + 1), [f"{c.stored.spec.workload}\n{c.label}"
                                                  for c, _ in measured], rotation=15, ha="right")
    axes.set_yscale("log")
    axes.set_ylabel("latency (ms, log scale)")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return inline_svg(figure)


def sweep_figure(sweep: Sweep, style: FigureStyle) -> str:
    """Headline median against batch size (log scale), one line per framework/mode."""
    plt = headless_pyplot()
    figure, axes = plt.subplots(figsize=(4.6, 3.0))
    for label, points in sweep.series.items():
        sizes = sorted(points)
        medians = [points[size].median for size in sizes]
        low = [points[s].median - (points[s].ci or (points[s].median,) * 2)[0] for s in sizes]
        high = [(points[s].ci or (points[s].median,) * 2)[1] - points[s].median for s in sizes]
        axes.errorbar(sizes, medians, yerr=[low, high], marker="o", capsize=3, label=label,
                      color=style.colour(label.split("/")[0]), linestyle=style.line_style(label))
    axes.set_xscale("log", base=2)
    axes.set_xlabel("batch size")
    axes.set_ylabel(style.definitions.unit(sweep.metric, sweep.workload))
    axes.set_title(f"{sweep.workload} · {sweep.scenario}")
    from matplotlib.ticker import FuncFormatter

    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: number(value)))
    axes.legend(fontsize=7, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return inline_svg(figure)


def learning_curves_figure(workload: str, cells: Sequence[CellReport],
                           style: FigureStyle) -> str | None:
    """Validation accuracy and training loss per epoch; one thin line per seed."""
    curves = [cell for cell in cells if cell.stored.samples_by_process.get("val_accuracy")]
    if not curves:
        return None
    plt = headless_pyplot()
    figure, (accuracy, loss) = plt.subplots(1, 2, figsize=(7.6, 2.9))
    for cell in curves:
        colour = style.colour(cell.stored.spec.framework)
        for seed, (val, train) in enumerate(zip(cell.stored.samples_by_process["val_accuracy"],
                                                cell.stored.samples_by_process["train_loss"],
                                                strict=True)):
            epochs = range(1, len(val) + 1)
            label = cell.label if seed == 0 else None
            accuracy.plot(epochs, [100 * v for v in val], color=colour, alpha=0.8,
                          linewidth=1, label=label)
            loss.plot(epochs, train, color=colour, alpha=0.8, linewidth=1, label=label)
    dataset = curves[0].stored.spec.options.get("dataset", "")
    accuracy.set_title(f"{workload} on {dataset}: validation "
                       f"{style.definitions.quality(workload)}")
    accuracy.set_ylabel("%")
    loss.set_title("training loss")
    for axes in (accuracy, loss):
        axes.set_xlabel("epoch")
        axes.spines[["top", "right"]].set_visible(False)
    accuracy.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    return inline_svg(figure)


def memory_phases_figure(cells: Sequence[CellReport]) -> str | None:
    """Peak RSS while loading data, up to a built model, and while training."""
    phases = ("peak_rss_load_bytes", "peak_rss_build_bytes", "peak_rss_train_bytes")
    measured = [cell for cell in cells if all(p in cell.summaries for p in phases)]
    if not measured:
        return None
    plt = headless_pyplot()
    figure, axes = plt.subplots(figsize=(max(4.0, 1.6 * len(measured)), 2.9))
    width = 0.8 / len(phases)
    for index, (phase, name) in enumerate(zip(phases, ("loading data", "import + build",
                                                       "training"), strict=True)):
        positions = [i + (index - 1) * width for i in range(len(measured))]
        axes.bar(positions, [c.summaries[phase].median / 2**20 for c in measured], width,
                 label=name, color=("#6baed6", "#9e9ac8", "#fd8d3c")[index])
    axes.set_xticks(range(len(measured)),
                    [f"{c.stored.spec.workload}\n{c.label}" for c in measured], fontsize=7)
    axes.set_ylabel("peak RSS (MiB)")
    axes.legend(fontsize=7, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return inline_svg(figure)


@dataclass(frozen=True)
class _Mark:
    """How one kind of verdict is drawn in the forest plot."""

    legend: str
    marker: str
    face: str  # "none": hollow
    edge: str
    whiskers: Literal["-", "--", ""]  # line style of the interval; "": it has none


_SIGNIFICANT = _Mark("significant: the interval excludes 1", "o", "#0b5cad", "#0b5cad", "-")
_NO_DIFFERENCE = _Mark("no significant difference", "o", "#8c959f", "#57606a", "-")
_FLAGGED = _Mark("a cell is flagged unstable", "o", "none", "#9a6700", "--")
_NO_INTERVAL = _Mark("no interval: too few samples", "D", "none", "#8c959f", "")
_NOT_COMPARABLE = _Mark("not comparable: failed the same-model check", "X", "#57606a",
                        "#57606a", "")
_MARKS = (_SIGNIFICANT, _NO_DIFFERENCE, _FLAGGED, _NO_INTERVAL, _NOT_COMPARABLE)  # legend order


def _mark(group: Group, verdict: Verdict) -> _Mark:
    if not verdict.comparable:
        return _NOT_COMPARABLE
    if verdict.interval is None:
        return _NO_INTERVAL
    if group.flagged(verdict):
        return _FLAGGED
    return _SIGNIFICANT if verdict.significant else _NO_DIFFERENCE


def _row_label(group: Group, verdict: Verdict, *, ambiguous: bool) -> str:
    """"workload · scenario: A / B", and which group when the run has several such."""
    label = f"{group.workload} · {group.scenario}: {verdict.first} / {verdict.second}"
    if ambiguous:
        label += f" ({group.size} · batch {group.batch_size} · {group.device})"
    return label


def _ratio_text(verdict: Verdict) -> str:
    if not verdict.comparable:
        return f"{verdict.ratio:.2f}, not comparable"
    if verdict.interval is None:
        return f"{verdict.ratio:.2f}, no interval"
    low, high = verdict.interval
    return f"{verdict.ratio:.2f} ({low:.2f}–{high:.2f})"


def _positive(values: Sequence[float]) -> list[float]:
    return [value for value in values if value > 0 and math.isfinite(value)]


def verdicts_figure(groups: Sequence[Group], *, interval: str) -> str | None:
    """Forest plot: one row per verdict, its ratio of medians (first / second) as a point and
    its interval as whiskers (`interval`: what they hold, "95%"), on a log axis with a line at
    1 (no difference)."""
    rows = [(group, verdict) for group in groups for verdict in group.verdicts]
    if not rows:
        return None
    places = Counter((group.workload, group.scenario) for group in groups if group.verdicts)
    plt = headless_pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    # The legend sits above the rows: room for it and the axis, then 0.32 in per row.
    figure, axes = plt.subplots(figsize=(8.0, 1.4 + 0.32 * len(rows)))
    shown: set[_Mark] = set()
    for index, (group, verdict) in enumerate(rows):
        mark = _mark(group, verdict)
        shown.add(mark)
        if mark.whiskers and verdict.interval is not None:
            axes.hlines(index, *verdict.interval, color=mark.edge, linestyle=mark.whiskers,
                        linewidth=1.4)
        if _positive([verdict.ratio]):
            point = axes.plot([verdict.ratio], [index], linestyle="none", marker=mark.marker,
                              markersize=7, markerfacecolor=mark.face,
                              markeredgecolor=mark.edge, markeredgewidth=1.4)[0]
            point.set_gid(f"verdict-row-{index}")
        axes.annotate(_ratio_text(verdict), (1.01, index), xycoords=axes.get_yaxis_transform(),
                      va="center", fontsize=8, color=mark.edge)
    values = _positive([1.0, *(bound for _, verdict in rows
                              for bound in (verdict.ratio, *(verdict.interval or ())))])
    low, high = min(values) / 1.15, max(values) * 1.15
    axes.set_xscale("log")
    axes.set_xlim(low, high)
    axes.axvline(1.0, color="#57606a", linewidth=0.9)
    # 1-2-5 ticks over decades; over a narrow span, finer ones so that more than 1 is labelled.
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(
        (1.0, 2.0, 5.0) if high / low > 5 else (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0))))
    axes.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_yticks(range(len(rows)), [
        _row_label(group, verdict, ambiguous=places[(group.workload, group.scenario)] > 1)
        for group, verdict in rows])
    axes.set_ylim(len(rows) - 0.5, -0.5)  # the first verdict on top
    axes.set_xlabel(f"ratio of medians, first / second (log scale; whiskers: {interval} "
                    "interval)")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(handles=[
        Line2D([], [], linestyle=mark.whiskers or "none", color=mark.edge, marker=mark.marker,
               markerfacecolor=mark.face, markeredgecolor=mark.edge, label=mark.legend)
        for mark in _MARKS if mark in shown], fontsize=7, frameon=False, loc="lower left",
        bbox_to_anchor=(0.0, 1.0), ncol=2)
    figure.tight_layout()
    return inline_svg(figure)
