"""The comparison table as strings, shared by the terminal and Markdown reports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dlarena.analysis.verdict import ONE_PROCESS, Verdict
from dlarena.cell import DTYPES
from dlarena.report import formatting as fmt
from dlarena.report.analyses import break_evens, sweeps
from dlarena.report.model import CellReport, Report

HEADER = ("workload", "scenario", "batch", "framework", "version", "median", "unit", "95% CI",
          "CV", "CV procs", "n", "vs first", "peak RSS", "notes")
NUMERIC = frozenset({"batch", "median", "95% CI", "CV", "CV procs", "n", "vs first", "peak RSS"})


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    failed: bool
    flagged: bool
    unsupported: bool = False


def comparison_rows(report: Report) -> list[Row]:
    rows = []
    for group in report.groups:
        metric = group.headline
        for cell in group.cells:
            spec = cell.stored.spec
            notes = list(cell.flags)
            if cell.stored.failed:
                notes.insert(0, f"FAILED: {cell.stored.error}")
            elif cell.stored.unsupported:
                notes.insert(0, f"{fmt.UNSUPPORTED_NOTE}: {cell.stored.error}")
            rss = cell.summaries.get("peak_rss_bytes")
            if metric is not None and metric in cell.summaries:
                summary = cell.summaries[metric]
                ratio = group.ratio_to_first(cell)
                figures = (
                    fmt.number(summary.median),
                    report.definitions.unit(metric, spec.workload),
                    fmt.interval(summary.ci),
                    fmt.percent(summary.cv),
                    fmt.percent(cell.between_process_cv),
                    str(summary.n),
                    "–" if ratio is None else f"{ratio:.2f}x",
                )
            else:
                figures = ("–", "", "–", "–", "–", "0", "–")
            rows.append(Row(
                cells=(
                    spec.workload, spec.scenario, str(spec.batch_size), cell.label,
                    cell.stored.framework_version or "–",
                    *figures,
                    fmt.mebibytes(rss.median) if rss else "–",
                    "; ".join(notes),
                ),
                failed=cell.stored.failed,
                flagged=bool(cell.flags),
                unsupported=cell.stored.unsupported,
            ))
    return rows


def flag_note(labels: list[str]) -> str:
    return f" [flagged: {', '.join(labels)} unstable]" if labels else ""


def checked_note(verdict: Verdict) -> str:
    return f" [same model: {verdict.checked}]" if verdict.checked else ""


def process_note(verdict: Verdict) -> str:
    return "" if verdict.between_processes else f" [{ONE_PROCESS}]"


def verdict_lines(report: Report) -> list[str]:
    return [
        f"{group.workload} {group.scenario}: {verdict.text}{flag_note(group.flagged(verdict))}"
        f"{process_note(verdict)}{checked_note(verdict)}"
        for group in report.groups
        for verdict in group.verdicts
    ]


def control_line(report: Report) -> str:
    """The machine's A/A figure, or how to get one: verdicts are only as good as it."""
    if report.control is not None:
        return report.control.text
    return ("no A/A control on this machine yet: `dlarena calibrate --framework NAME` "
            "measures a framework against its identical twin")


def run_line(report: Report) -> str:
    env = report.run.environment
    versions = ", ".join(f"{k} {v}" for k, v in env.get("framework_versions", {}).items())
    threads = env.get("threads", {})
    return (
        f"run {report.run.id} · {report.run.created_utc} · {env.get('cpu_model')} "
        f"[{env.get('cpu_microarchitecture', 'microarchitecture not recorded')}] "
        f"({env.get('cpus_available')} CPUs available) · {versions} · threads "
        f"intra {threads.get('intra_op')} / inter {threads.get('inter_op')} · "
        f"dlarena {env.get('dlarena_version')} ({env.get('git_sha') or 'no git'})"
    )


def hardware_lines(report: Report) -> list[str]:
    """What the machine is, its physical float32 ceiling, and each library's measured product
    beside it: a figure above the ceiling is flagged, never shown as a result."""
    env = report.run.environment
    cpu = env.get("cpu") or {}
    lines = [f"CPU: {cpu.get('microarchitecture', 'unknown')} ({cpu.get('model_name', '?')}, "
             f"{cpu.get('vendor', '?')} family {cpu.get('family')} model {cpu.get('model')} "
             f"stepping {cpu.get('stepping')}; {', '.join(cpu.get('flags', [])) or 'no flags'})"
             f" · {env.get('cpus_available')} CPUs available"]
    if gpus := fmt.gpus(env):
        lines.append(f"GPUs: {gpus}")
    ceiling = env.get("physical_ceiling_gflops")
    basis = env.get("physical_ceiling_basis", "not recorded")
    figure = f"{fmt.number(ceiling)} GFLOP/s = {basis}" if ceiling else f"unknown ({basis})"
    lines.append(f"physical ceiling ({env.get('device', 'cpu')}): {figure}")
    products = []
    for library, value in env.get("matmul_peaks_gflops", {}).items():
        if isinstance(value, int | float):
            text = f"{library} {fmt.number(value)}"
            if ceiling and value > ceiling:
                text += f" (impossible: {fmt.number(value)} > {fmt.number(ceiling)})"
            products.append(text)
    if products:
        lines.append("measured float32 2048² products, GFLOP/s: " + " · ".join(products))
    return lines


def definitions_lines(report: Report) -> list[str]:
    """Where the units, FLOPs and modes behind the figures come from, and what to know of it."""
    definitions = report.definitions
    source = ([f"stored with the run: {len(definitions.workloads)} workloads, "
               f"{len(definitions.frameworks)} frameworks, verdict rules "
               f"{definitions.verdict_rules}"] if report.definitions_stored else [])
    return [*source, *report.definitions_notes]


def parity_lines(report: Report) -> list[str]:
    lines = []
    for result in report.parity:
        if result.error is not None:
            # No evidence to compare (a worker failed: no GPU, an import error, a model the
            # layout check refused): the pair is not comparable, and not shown to differ.
            lines.append(f"{result.workload} ({result.size}): {result.first_label} vs "
                         f"{result.second_label}: the same-model check could not run — "
                         f"{result.error}")
            continue
        pair = (f"{result.workload} ({result.size}): {result.first_label} vs "
                f"{result.second_label}, checked in {DTYPES[result.precision]}")
        audits = "; ".join(f"{audit.label} {audit.worst.ratio:.1f}x" for audit in result.audits)
        audited = (f"; float32 precision audited ({audits} float32's expected rounding error)"
                   if audits else "")
        if result.passed:
            names = ", ".join(check.name for check in result.checks)
            lines.append(f"{pair}: same model — {names} agree{audited}")
        elif result.same_model:
            lines.append(f"{pair}: same model, NOT comparable — {result.reason}")
        else:
            lines.append(f"{pair}: NOT the same model — {result.reason}")
    lines += [f"{workload}: {first} vs {second}: same-model check not run"
              for workload, first, second in report.unchecked_pairs]
    return lines


# The problems section's parts, in order, each a title and one line per cell (text formats).
PROBLEMS_NONE = "None: every cell finished, and none was flagged."


def problem_parts(report: Report) -> list[tuple[str, list[str]]]:
    """Failed cells with their errors, unsupported ones with their reasons (recorded
    outcomes, not failures), flagged ones with their flags; empty parts left out."""
    parts = [
        ("Failed cells", [f"{cell.stored.spec.label}: {cell.stored.error or ''}"
                          for cell in report.failed]),
        ("Unsupported here (not failures)", [f"{cell.stored.spec.label}: "
                                             f"{cell.stored.error or ''}"
                                             for cell in report.unsupported]),
        ("Flagged cells", [f"{cell.stored.spec.label}: {'; '.join(cell.flags)}"
                           for cell in report.cells if cell.flags]),
    ]
    return [(title, lines) for title, lines in parts if lines]


def manifest_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """Header (setting, frameworks…, differs) and one row per setting."""
    manifest = report.manifest()
    labels = list(manifest)
    keys = sorted({key for settings in manifest.values() for key in settings})
    rows = []
    for key in keys:
        values = [manifest[label].get(key, "–") for label in labels]
        rows.append([key, *values, "≠" if len(set(values)) > 1 else ""])
    return ["setting", *labels, "differs"], rows


STARTUP_HEADER = ("workload", "framework", "import", "build", "first step", "first result",
                  "compiler")


def startup_rows(report: Report) -> list[list[str]]:
    """Start-up breakdown (medians over processes, seconds) of every startup cell."""
    rows = []
    for cell in report.cells:
        if cell.stored.spec.scenario != "startup" or not cell.summaries:
            continue
        seconds = [
            f"{cell.summaries[name].median:.2f} s" if name in cell.summaries else "–"
            for name in ("import_seconds", "build_seconds", "first_step_seconds",
                         "time_to_first_result_seconds")
        ]
        compiler = ", ".join(f"{name.replace('_', ' ')} {cell.summaries[name].median:.0f}"
                             for name in ("compiled_graphs", "graph_breaks", "traces")
                             if name in cell.summaries)
        if "compile_seconds" in cell.summaries:
            compiler += f"{', ' if compiler else ''}compiling " \
                        f"{cell.summaries['compile_seconds'].median:.2f} s"
        rows.append([cell.stored.spec.workload, cell.label, *seconds, compiler or "–"])
    return rows


LATENCY_HEADER = ("workload", "framework", "p50", "p90", "p99", "max", "requests")


def latency_rows(report: Report) -> list[list[str]]:
    """p50 (the median), p90, p99 and max of the requests, pooled over processes."""
    rows = []
    for cell in report.cells:
        summary = cell.summaries.get("latency_seconds")
        if cell.stored.spec.scenario != "latency" or summary is None:
            continue
        tail = [cell.percentile("latency_seconds", q) for q in (90, 99)]
        rows.append([
            cell.stored.spec.workload, cell.label,
            *(f"{1e3 * value:.3g} ms" for value in (summary.median, *tail, summary.maximum)),
            str(summary.n),
        ])
    return rows


def sweep_lines(report: Report) -> list[str]:
    lines = []
    for sweep in sweeps(report):
        where = (f"{sweep.workload} {sweep.scenario} "
                 f"({report.definitions.unit(sweep.metric, sweep.workload)})")
        if not sweep.crossovers:
            sizes = sorted({size for values in sweep.series.values() for size in values})
            lines.append(f"{where}: no crossover between batch {sizes[0]} and {sizes[-1]}")
        for crossing in sweep.crossovers:
            lines.append(f"{where}: {crossing.before} leads up to batch {crossing.below}, "
                         f"{crossing.after} from batch {crossing.above}")
    return lines


def break_even_lines(report: Report) -> list[str]:
    return [f"{item.workload}: {item.text}" for item in break_evens(report)]


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _median(cell: CellReport, metric: str, render: Callable[[float], str]) -> str:
    found = cell.summaries.get(metric)
    return render(found.median) if found else "–"


CONVERGENCE_HEADER = ("workload", "dataset", "framework", "epochs", "seeds", "val quality",
                      "training time", "to target", "RSS load", "RSS build", "RSS train")


def convergence_rows(report: Report) -> list[list[str]]:
    """Medians over seeds, with the range across seeds for accuracy."""
    rows = []
    for cell in report.cells:
        spec = cell.stored.spec
        accuracy = cell.summaries.get("final_val_accuracy")
        if spec.scenario != "convergence" or accuracy is None:
            continue

        target = spec.options.get("target_accuracy")
        rows.append([
            spec.workload, str(spec.options.get("dataset")), cell.label,
            str(spec.options.get("epochs")), str(accuracy.n),
            f"{report.definitions.quality(spec.workload)} {accuracy.median:.2%} "
            f"({accuracy.minimum:.2%}–{accuracy.maximum:.2%})",
            _median(cell, "training_seconds", _seconds),
            _median(cell, "time_to_target_seconds", _seconds) + (
                f" (≥ {target:.0%})" if target else ""),
            *(_median(cell, name, fmt.mebibytes) for name in
              ("peak_rss_load_bytes", "peak_rss_build_bytes", "peak_rss_train_bytes")),
        ])
    return rows
