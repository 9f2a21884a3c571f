"""The comparison table as strings, shared by the terminal and Markdown reports."""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.report import formatting as fmt
from dlarena.report.model import Report, unit

HEADER = ("workload", "scenario", "batch", "framework", "version", "median", "unit", "95% CI",
          "CV", "CV procs", "n", "vs first", "peak RSS", "notes")
NUMERIC = frozenset({"batch", "median", "95% CI", "CV", "CV procs", "n", "vs first", "peak RSS"})


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    failed: bool
    flagged: bool


def comparison_rows(report: Report) -> list[Row]:
    rows = []
    for group in report.groups:
        metric = group.headline
        for cell in group.cells:
            spec = cell.stored.spec
            notes = list(cell.flags)
            if not cell.stored.ok:
                notes.insert(0, f"FAILED: {cell.stored.error}")
            rss = cell.summaries.get("peak_rss_bytes")
            if metric is not None and metric in cell.summaries:
                summary = cell.summaries[metric]
                ratio = group.ratio_to_first(cell)
                figures = (
                    fmt.number(summary.median),
                    unit(metric),
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
                failed=not cell.stored.ok,
                flagged=bool(cell.flags),
            ))
    return rows


def flag_note(labels: list[str]) -> str:
    return f" [flagged: {', '.join(labels)} unstable]" if labels else ""


def verdict_lines(report: Report) -> list[str]:
    return [
        f"{group.workload} {group.scenario}: {verdict.text}{flag_note(group.flagged(verdict))}"
        for group in report.groups
        for verdict in group.verdicts
    ]


def run_line(report: Report) -> str:
    env = report.run.environment
    versions = ", ".join(f"{k} {v}" for k, v in env.get("framework_versions", {}).items())
    threads = env.get("threads", {})
    return (
        f"run {report.run.id} · {report.run.created_utc} · {env.get('cpu_model')} "
        f"({env.get('cpus_available')} CPUs available) · {versions} · threads "
        f"intra {threads.get('intra_op')} / inter {threads.get('inter_op')} · "
        f"dlarena {env.get('dlarena_version')} ({env.get('git_sha') or 'no git'})"
    )


def parity_lines(report: Report) -> list[str]:
    lines = []
    for result in report.parity:
        pair = f"{result.workload} ({result.size}): {result.first} vs {result.second}"
        if result.passed:
            names = ", ".join(check.name for check in result.checks)
            lines.append(f"{pair}: same model — {names} agree")
        else:
            lines.append(f"{pair}: NOT the same model — {result.reason}")
    lines += [f"{workload}: {first} vs {second}: same-model check not run"
              for workload, first, second in report.unchecked_pairs]
    return lines


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
