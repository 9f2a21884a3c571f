"""Figures as inline SVG (matplotlib, Agg backend): no JavaScript, no network, any browser.

Every figure shows what the stats module computed; nothing is recomputed here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from dlarena.report import facts
from dlarena.report.facts import quality, unit
from dlarena.report.formatting import number
from dlarena.report.model import CellReport, Group

# Colour per framework, stable across figures: its INFO's, else the next spare one.
_SPARE = ("#2ca02c", "#9467bd", "#8c564b", "#17becf", "#ff8f00", "#bcbd22", "#e377c2")
_ASSIGNED: dict[str, str] = {}


def colour(framework: str) -> str:
    if framework not in _ASSIGNED:
        _ASSIGNED[framework] = (facts.colour(framework)
                                or _SPARE[len(_ASSIGNED) % len(_SPARE)])
    return _ASSIGNED[framework]


def _line_style(label: str) -> str:
    """Solid for a framework's default and eager modes, dashed for its other compiled ones."""
    framework, _, mode = label.partition("/")
    return "-" if mode in (facts.default_mode(framework), facts.eager_mode(framework)) else "--"


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    text = buffer.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG is inline
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def _bars(axes: Any, cells: Sequence[CellReport], metric: str, scale: float = 1.0) -> None:
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
        colours.append(colour(cell.stored.spec.framework))
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


def throughput_figure(workload: str, groups: Sequence[Group]) -> str | None:
    """One panel per scenario: median throughput per framework, 95% CI as error bars."""
    measured = [g for g in groups if g.headline and g.headline.endswith("_throughput")
                and any(g.headline in c.summaries for c in g.cells)]
    if not measured:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(measured), figsize=(3.4 * len(measured), 2.9),
                                squeeze=False)
    for panel, group in zip(axes[0], measured, strict=True):
        metric = group.headline
        assert metric is not None
        _bars(panel, group.cells, metric)
        panel.set_title(f"{workload} · {group.scenario} (batch {group.batch_size})")
        panel.set_ylabel(unit(metric, workload))
    figure.tight_layout()
    return _svg(figure)


def memory_figure(groups: Sequence[Group]) -> str | None:
    """Peak RSS of the worker, per workload and scenario, per framework."""
    with_memory = [g for g in groups if g.scenario in ("train", "infer")
                   and any("peak_rss_bytes" in c.summaries for c in g.cells)]
    if not with_memory:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(with_memory), figsize=(2.6 * len(with_memory), 2.8),
                                squeeze=False, sharey=True)
    for panel, group in zip(axes[0], with_memory, strict=True):
        _bars(panel, group.cells, "peak_rss_bytes", scale=2**20)
        panel.set_title(f"{group.workload} · {group.scenario}")
    axes[0][0].set_ylabel("peak RSS (MiB)")
    figure.tight_layout()
    return _svg(figure)


def latency_figure(cells: Sequence[CellReport]) -> str | None:
    """Per-request latency per framework/mode: box = quartiles, whiskers = 1st-99th pct."""
    measured = [(cell, cell.stored.samples["latency_seconds"]) for cell in cells
                if cell.stored.samples.get("latency_seconds")]
    if not measured:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(max(4.0, 1.2 * len(measured)), 3.0))
    boxes = axes.boxplot([[1e3 * value for value in values] for _, values in measured],
                         whis=(1, 99), showfliers=False, patch_artist=True)
    for box, (cell, _) in zip(boxes["boxes"], measured, strict=True):
        box.set_facecolor(colour(cell.stored.spec.framework))
    axes.set_xticks(range(1, len(measured) + 1), [f"{c.stored.spec.workload}\n{c.label}"
                                                  for c, _ in measured], rotation=15, ha="right")
    axes.set_yscale("log")
    axes.set_ylabel("latency (ms, log scale)")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return _svg(figure)


def sweep_figure(sweep: Any) -> str:
    """Headline median against batch size (log scale), one line per framework/mode."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(4.6, 3.0))
    for label, points in sweep.series.items():
        sizes = sorted(points)
        medians = [points[size].median for size in sizes]
        low = [points[s].median - (points[s].ci or (points[s].median,) * 2)[0] for s in sizes]
        high = [(points[s].ci or (points[s].median,) * 2)[1] - points[s].median for s in sizes]
        axes.errorbar(sizes, medians, yerr=[low, high], marker="o", capsize=3, label=label,
                      color=colour(label.split("/")[0]), linestyle=_line_style(label))
    axes.set_xscale("log", base=2)
    axes.set_xlabel("batch size")
    axes.set_ylabel(unit(sweep.metric, sweep.workload))
    axes.set_title(f"{sweep.workload} · {sweep.scenario}")
    from matplotlib.ticker import FuncFormatter

    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: number(value)))
    axes.legend(fontsize=7, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    return _svg(figure)


def learning_curves_figure(workload: str, cells: Sequence[CellReport]) -> str | None:
    """Validation accuracy and training loss per epoch; one thin line per seed."""
    curves = [cell for cell in cells if cell.stored.samples_by_process.get("val_accuracy")]
    if not curves:
        return None
    plt = _pyplot()
    figure, (accuracy, loss) = plt.subplots(1, 2, figsize=(7.6, 2.9))
    for cell in curves:
        colour_ = colour(cell.stored.spec.framework)
        for seed, (val, train) in enumerate(zip(cell.stored.samples_by_process["val_accuracy"],
                                                cell.stored.samples_by_process["train_loss"],
                                                strict=True)):
            epochs = range(1, len(val) + 1)
            label = cell.label if seed == 0 else None
            accuracy.plot(epochs, [100 * v for v in val], color=colour_, alpha=0.8,
                          linewidth=1, label=label)
            loss.plot(epochs, train, color=colour_, alpha=0.8, linewidth=1, label=label)
    dataset = curves[0].stored.spec.options.get("dataset", "")
    accuracy.set_title(f"{workload} on {dataset}: validation {quality(workload)}")
    accuracy.set_ylabel("%")
    loss.set_title("training loss")
    for axes in (accuracy, loss):
        axes.set_xlabel("epoch")
        axes.spines[["top", "right"]].set_visible(False)
    accuracy.legend(fontsize=7, frameon=False)
    figure.tight_layout()
    return _svg(figure)


def memory_phases_figure(cells: Sequence[CellReport]) -> str | None:
    """Peak RSS while loading data, up to a built model, and while training."""
    phases = ("peak_rss_load_bytes", "peak_rss_build_bytes", "peak_rss_train_bytes")
    measured = [cell for cell in cells if all(p in cell.summaries for p in phases)]
    if not measured:
        return None
    plt = _pyplot()
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
    return _svg(figure)
