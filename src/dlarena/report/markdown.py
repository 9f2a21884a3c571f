"""The comparison as Markdown."""

from __future__ import annotations

from collections.abc import Sequence

from dlarena.parity.compare import REDUCED_PRECISION_LIMIT, TOLERANCES
from dlarena.report import dataload, deployment, devex, phases, sanitise, scaling
from dlarena.report.claims import judge_all
from dlarena.report.facts import VERDICT_RULES, VERDICT_RULES_VERSION
from dlarena.report.model import Report
from dlarena.report.paper import paper_note, paper_table
from dlarena.report.table import (
    CONVERGENCE_HEADER,
    HEADER,
    LATENCY_HEADER,
    STARTUP_HEADER,
    break_even_lines,
    comparison_rows,
    control_line,
    convergence_rows,
    hardware_lines,
    latency_rows,
    manifest_table,
    parity_lines,
    run_line,
    startup_rows,
    sweep_lines,
    verdict_lines,
)


def _cell(text: str) -> str:
    """Text from users and error messages must not become HTML when the Markdown is rendered."""
    return sanitise.markdown(text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(_cell(name) for name in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows),
    ]


def _deployment(report: Report) -> list[str]:
    header, matrix = deployment.export_matrix(report)
    if not matrix:
        return []
    lines = ["", "## Deployment", "", "### Export matrix", "", *_table(header, matrix)]
    for title, columns, body in (
            ("Save and load", deployment.SAVE_HEADER, deployment.save_rows(report)),
            ("Portable inference", deployment.EXPORT_HEADER, deployment.export_rows(report)),
            ("Serving under load", deployment.SERVE_HEADER, deployment.serve_rows(report))):
        if body:
            lines += ["", f"### {title}", "", *_table(columns, body)]
    return [*lines, "", _cell(deployment.NOTE)]


def render(report: Report, *, reference: str | None = None) -> str:
    lines = ["# dlarena comparison", "", _cell(run_line(report)), "",
             *(f"- {_cell(line)}" for line in hardware_lines(report)),
             *(f"- **{_cell(note)}**" for note in report.definitions_notes),
             "", "## Verdicts", ""]
    verdicts = verdict_lines(report)
    lines += [f"- {_cell(v)}" for v in verdicts] or ["- no pair of measured cells to compare"]
    lines += [
        "",
        f"Ratios of medians with {report.interval_label} confidence intervals by "
        f"{VERDICT_RULES[VERDICT_RULES_VERSION]};",
        "a difference is significant when its interval excludes 1.",
        "",
        _cell(control_line(report)),
        "",
        "## Cells",
        "",
        *_table(HEADER, [row.cells for row in comparison_rows(report)]),
    ]
    paper = paper_table(report, reference=reference)
    if paper is not None:
        lines += ["", "## Beside the published table (training throughput)", "",
                  *_table(paper.header, paper.lines), "",
                  "### FLOP rate of the published table's models", "",
                  *_table(paper.gflops_header, paper.gflops_rows), "",
                  _cell(paper_note(report, reference=reference))]
    for title, columns, body in (("Convergence on real data (medians over seeds)",
                                  CONVERGENCE_HEADER, convergence_rows(report)),
                                 ("Start-up (medians)", STARTUP_HEADER, startup_rows(report)),
                                 ("Data-parallel scaling", scaling.HEADER,
                                  scaling.rows(report)),
                                 ("Batch-1 latency", LATENCY_HEADER, latency_rows(report)),
                                 ("Input pipelines (images/s; CPU and memory of the worker "
                                  "and its loaders)", dataload.PIPELINE_HEADER,
                                  dataload.pipeline_rows(report)),
                                 ("Training from files vs from memory (samples/s; own "
                                  "processes, paired by round)", dataload.TRAIN_HEADER,
                                  dataload.train_rows(report))):
        if body:
            lines += ["", f"## {title}", "", *_table(columns, body)]
    found = devex.tables(report)
    if found:
        lines += ["", "## Ease of development", "", _cell(devex.NOTE)]
        for heading, devex_header, devex_rows in found:
            lines += ["", f"### {heading}", "", *_table(devex_header, devex_rows)]
        lines += ["", "### The seeds' claims on ease of development", ""]
        lines += [f"- **{_cell(result.status)}** — {_cell(result.claim.source)}: "
                  f"“{_cell(result.claim.quote)}” ({_cell(result.claim.english)}) "
                  f"{_cell(result.summary)}"
                  for result in judge_all(report) if result.claim.criterion]
    lines += _deployment(report)
    if phases.rows(report):
        lines += ["", "## Where the time went", "", _cell(phases.NOTE), "",
                  *_table(phases.HEADER, phases.rows(report)), "",
                  *_table(phases.FRAMEWORK_HEADER, phases.framework_rows(report))]
    for title, items in (("Input-bound", dataload.input_bound_lines(report)),
                         ("Batch-size sweeps", sweep_lines(report)),
                         ("Break-even of compiled modes", break_even_lines(report))):
        if items:
            lines += ["", f"## {title}", ""] + [f"- {_cell(item)}" for item in items]
    lines += ["", "## Same model? (parity)", ""]
    lines += [f"- {_cell(line)}" for line in parity_lines(report)] or [
        "- no pair of frameworks to check"]
    lines += [
        "",
        "In float64, from identical canonical weights and batches, each pair in the modes "
        "the run measured: parameter names, shapes and counts; every weighted layer's output "
        "in inference and training mode; the loss and every gradient; the losses of 5 Adam "
        "and 5 SGD steps; the trained weights and BatchNorm running variances (unbiased and "
        "biased batch-variance conventions converted exactly). Tolerances, relative to "
        "max(1, max |reference|), set from the agreement correct implementations reach in "
        "float64 (see parity/compare.py): "
        + ", ".join(f"{name} {tolerance:.0e}" for name, tolerance in TOLERANCES.items())
        + ". Each framework/mode's timed float32 path is audited against its own float64 "
        f"result and flagged at {REDUCED_PRECISION_LIMIT:.0f}x float32's expected rounding "
        "error (precision_audit in the manifest).",
    ]
    header, rows = manifest_table(report)
    if rows:
        lines += ["", "## Fairness manifest", "", *_table(header, rows)]
    failed = report.failed
    if failed:
        lines += ["", "## Failed cells", ""]
        lines += [f"- {c.stored.spec.label}: {_cell(c.stored.error or '')}" for c in failed]
    unsupported = report.unsupported
    if unsupported:
        lines += ["", "## Unsupported here (not failures)", ""]
        lines += [f"- {c.stored.spec.label}: {_cell(c.stored.error or '')}"
                  for c in unsupported]
    return "\n".join(lines) + "\n"
