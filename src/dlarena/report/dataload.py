"""The data-loading section: input pipelines' throughput per framework and loader workers,
training fed from files against training fed from memory, and where training became
input-bound. Strings shared by the terminal, Markdown and HTML reports."""

from __future__ import annotations

from collections.abc import Iterable

from dlarena.report import formatting as fmt
from dlarena.report.model import CellReport, Report
from dlarena.scenarios import pipelines

PIPELINE_HEADER = ("workload", "framework", "format", "batch", "workers", "images/s", "95% CI",
                   "CPU ms/image", "peak RSS loading")
TRAIN_HEADER = ("workload", "framework", "batch", "workers", "from files", "from memory",
                "files/memory", "verdict")
DATALOAD = "dataload"
TRAIN_FROM_FILES = "train-from-files"


def _framework(cell: CellReport) -> str:
    spec = cell.stored.spec
    return f"{spec.framework}/{spec.mode}"


def _cells(report: Report, scenario: str) -> list[CellReport]:
    chosen = [cell for cell in report.cells if cell.stored.spec.scenario == scenario]
    return sorted(chosen, key=lambda c: (
        c.stored.spec.workload, c.stored.spec.batch_size,
        str(c.stored.spec.options.get(pipelines.FORMAT_OPTION, "")), _framework(c),
        int(c.stored.spec.options.get(pipelines.WORKERS_OPTION, 0))))


def _median(cell: CellReport, metric: str) -> float | None:
    summary = cell.summaries.get(metric)
    return summary.median if summary else None


def pipeline_rows(report: Report) -> list[list[str]]:
    rows = []
    for cell in _cells(report, DATALOAD):
        spec = cell.stored.spec
        rate, cpu, rss = (_median(cell, name) for name in (
            "load_throughput", "cpu_seconds_per_image", "peak_rss_loading_bytes"))
        summary = cell.summaries.get("load_throughput")
        rows.append([
            spec.workload, _framework(cell), str(spec.options.get(pipelines.FORMAT_OPTION, "–")),
            str(spec.batch_size), str(spec.options.get(pipelines.WORKERS_OPTION, "–")),
            fmt.number(rate) if rate is not None else _failed(cell),
            fmt.interval(summary.ci) if summary else "–",
            f"{1e3 * cpu:.2f}" if cpu is not None else "–",
            fmt.mebibytes(rss) if rss is not None else "–",
        ])
    return rows


def _failed(cell: CellReport) -> str:
    """A failed cell's first line of error (the whole is under the failed cells)."""
    if cell.stored.ok:
        return "–"
    first = (cell.stored.error or "").strip().splitlines()[:1] or [""]
    return f"FAILED: {first[0][:80]}"


def _verdict(cell: CellReport) -> tuple[float, float, float, bool] | None:
    """(from files, from memory, their ratio, input-bound) from the pooled medians."""
    files = _median(cell, "train_from_files_throughput")
    memory = _median(cell, "train_in_memory_throughput")
    if files is None or memory is None or memory <= 0:
        return None
    return files, memory, files / memory, pipelines.input_bound(files, memory)


def train_rows(report: Report) -> list[list[str]]:
    rows = []
    for cell in _cells(report, TRAIN_FROM_FILES):
        spec = cell.stored.spec
        found = _verdict(cell)
        start = [spec.workload, _framework(cell), str(spec.batch_size),
                 str(spec.options.get(pipelines.WORKERS_OPTION, "–"))]
        if found is None:
            rows.append([*start, _failed(cell), "–", "–", "–"])
            continue
        files, memory, ratio, bound = found
        rows.append([*start, fmt.number(files), fmt.number(memory), f"{ratio:.2f}x",
                     "input-bound" if bound else "keeps up"])
    return rows


def input_bound_lines(report: Report) -> list[str]:
    """Per workload, framework and batch: at which loader-worker counts the pipeline capped
    the training step rate."""
    by_series: dict[tuple[str, str, int], list[tuple[int, bool]]] = {}
    for cell in _cells(report, TRAIN_FROM_FILES):
        found = _verdict(cell)
        if found is None:
            continue
        spec = cell.stored.spec
        key = (spec.workload, _framework(cell), spec.batch_size)
        workers = int(spec.options.get(pipelines.WORKERS_OPTION, 0))
        by_series.setdefault(key, []).append((workers, found[3]))
    lines = []
    for (workload, framework, batch), points in by_series.items():
        bound = sorted(w for w, is_bound in points if is_bound)
        free = sorted(w for w, is_bound in points if not is_bound)
        where = (f"input-bound with {_counts(bound)} loader workers" if bound
                 else "never input-bound")
        if bound and free:
            where += f", keeps up with {_counts(free)}"
        lines.append(f"{workload} {framework} (batch {batch}): {where} "
                     f"(files below {pipelines.INPUT_BOUND_RATIO:g}x the in-memory step rate)")
    return lines


def _counts(values: Iterable[int]) -> str:
    return ", ".join(map(str, values))
