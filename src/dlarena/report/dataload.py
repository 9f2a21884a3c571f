"""The data-loading section: input pipelines' throughput per framework and loader workers,
training fed from files against training fed from memory, and where training became
input-bound. Strings shared by the terminal, Markdown and HTML reports.

Training from files and from memory are separate cells (`train-from-files` per loader-worker
count, and `train`), each in worker processes of its own, measured in the same rounds: their
ratio is paired round by round (`stats.ratio_ci`), and a run whose cells have one process
each falls back to the between-window interval, which says nothing of the spread between
processes (the verdict then says "one process"). Runs stored before December 2026 timed both
in one process; their cells still carry `train_in_memory_throughput` and are read as then."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dlarena.analysis import stats
from dlarena.report import formatting as fmt
from dlarena.report.model import CellReport, Report
from dlarena.scenarios import pipelines

PIPELINE_HEADER = ("workload", "framework", "format", "batch", "workers", "images/s", "95% CI",
                   "CPU ms/image", "peak RSS loading")
TRAIN_HEADER = ("workload", "framework", "batch", "workers", "from files", "from memory",
                f"files/memory ({stats.CONFIDENCE:.0%} CI)", "verdict")
IN_MEMORY = "train"
BOUND, KEEPS_UP, UNDECIDED = pipelines.BOUND, pipelines.KEEPS_UP, pipelines.UNDECIDED
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


@dataclass(frozen=True)
class FromFiles:
    """A train-from-files cell against the same step fed from memory."""

    files: float  # median samples/s
    memory: float
    ratio: float
    interval: tuple[float, float] | None
    # BOUND: the interval lies below INPUT_BOUND_RATIO; KEEPS_UP: at or above it; else
    # UNDECIDED.
    verdict: str
    # Processes on the smaller side: 1 means the interval is between windows of one process.
    processes: int


def _in_memory(report: Report, cell: CellReport) -> CellReport | None:
    """The `train` cell this train-from-files cell is judged against: same workload,
    framework, mode, size, batch and device."""
    spec = cell.stored.spec
    for other in report.cells:
        found = other.stored.spec
        if (found.scenario == IN_MEMORY and found.workload == spec.workload
                and found.framework == spec.framework and found.mode == spec.mode
                and found.size == spec.size and found.batch_size == spec.batch_size
                and found.device == spec.device and "train_throughput" in other.summaries):
            return other
    return None


def from_files(report: Report, cell: CellReport) -> FromFiles | None:
    files = cell.summaries.get("train_from_files_throughput")
    if files is None:
        return None
    stored_memory = cell.summaries.get("train_in_memory_throughput")
    if stored_memory is not None:  # a run before December 2026: one process, alternating
        ratio = files.median / stored_memory.median
        return FromFiles(files.median, stored_memory.median, ratio, None,
                         BOUND if pipelines.input_bound(files.median, stored_memory.median)
                         else KEEPS_UP, 1)
    memory = _in_memory(report, cell)
    if memory is None:
        return None
    a = cell.stored.by_round("train_from_files_throughput")
    b = memory.stored.by_round("train_throughput")
    ratio = stats.ratio(a, b)
    interval = stats.ratio_ci(a, b)
    return FromFiles(files.median, memory.summaries["train_throughput"].median, ratio,
                     interval, pipelines.input_bound_verdict(interval, ratio),
                     min(stats.processes(a), stats.processes(b)))


def _verdict_text(found: FromFiles) -> str:
    return found.verdict + (" (one process)" if found.processes < 2 else "")


def train_rows(report: Report) -> list[list[str]]:
    rows = []
    for cell in _cells(report, TRAIN_FROM_FILES):
        spec = cell.stored.spec
        found = from_files(report, cell)
        start = [spec.workload, _framework(cell), str(spec.batch_size),
                 str(spec.options.get(pipelines.WORKERS_OPTION, "–"))]
        if found is None:
            reason = _failed(cell) if not cell.stored.ok else "no train cell to compare"
            rows.append([*start, reason, "–", "–", "–"])
            continue
        ratio = f"{found.ratio:.3g}x" + (
            "" if found.interval is None else f" ({found.interval[0]:.3g}–{found.interval[1]:.3g})")
        rows.append([*start, fmt.number(found.files), fmt.number(found.memory), ratio,
                     _verdict_text(found)])
    return rows


def input_bound_lines(report: Report) -> list[str]:
    """Per workload, framework and batch: at which loader-worker counts the pipeline capped
    the training step rate, kept up with it, or could not be told apart."""
    by_series: dict[tuple[str, str, int], list[tuple[int, str]]] = {}
    for cell in _cells(report, TRAIN_FROM_FILES):
        found = from_files(report, cell)
        if found is None:
            continue
        spec = cell.stored.spec
        key = (spec.workload, _framework(cell), spec.batch_size)
        workers = int(spec.options.get(pipelines.WORKERS_OPTION, 0))
        by_series.setdefault(key, []).append((workers, found.verdict))
    lines = []
    for (workload, framework, batch), points in by_series.items():
        parts = [f"{verdict} with {_counts(sorted(w for w, v in points if v == verdict))} "
                 "loader workers" for verdict in (BOUND, KEEPS_UP, UNDECIDED)
                 if any(v == verdict for _, v in points)]
        where = ", ".join(parts) if any(v == BOUND for _, v in points) else (
            "never input-bound" + (f" ({', '.join(parts)})" if parts else ""))
        lines.append(f"{workload} {framework} (batch {batch}): {where} "
                     f"(files below {pipelines.INPUT_BOUND_RATIO:g}x the in-memory step rate, "
                     f"{stats.CONFIDENCE:.0%} CI)")
    return lines


def _counts(values: Iterable[int]) -> str:
    return ", ".join(map(str, values))
