"""The comparison as a rich table in the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from dlarena.report import dataload, deployment, devex, phases, sanitise, scaling
from dlarena.report.claims import judge_all
from dlarena.report.model import Report
from dlarena.report.paper import paper_note, paper_table
from dlarena.report.table import (
    CONVERGENCE_HEADER,
    HEADER,
    LATENCY_HEADER,
    NUMERIC,
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


def render(report: Report, console: Console, *, reference: str | None = None) -> None:
    table = Table(title="dlarena comparison", title_justify="left", show_lines=False)
    for name in HEADER:
        table.add_column(name, justify="right" if name in NUMERIC else "left",
                         overflow="fold", max_width=60 if name == "notes" else None)
    for row in comparison_rows(report):
        style = ("red" if row.failed else "dim" if row.unsupported
                 else "yellow" if row.flagged else None)
        table.add_row(*(sanitise.terminal(text) for text in row.cells), style=style)
    console.print(sanitise.terminal(run_line(report)), style="dim")
    for line in hardware_lines(report):
        console.print(sanitise.terminal(line), style="dim")
    for note in report.definitions_notes:
        console.print(sanitise.terminal(note), style="yellow")
    console.print(table)
    lines = verdict_lines(report)
    if lines:
        console.print(f"[bold]Verdicts[/bold] (ratio of medians, {report.interval_label} "
                      "interval)")
        for line in lines:
            console.print(f"  • {sanitise.terminal(line)}")
    console.print(sanitise.terminal(control_line(report)), style="dim")
    paper = paper_table(report, reference=reference)
    if paper is not None:
        _table(console, "Beside the published table (training throughput)", paper.header,
               paper.lines)
        _table(console, "FLOP rate of the published table's models", paper.gflops_header,
               paper.gflops_rows)
        console.print(sanitise.terminal(paper_note(report, reference=reference)), style="dim")
    _table(console, "Convergence on real data (medians over seeds)", CONVERGENCE_HEADER,
           convergence_rows(report))
    _table(console, "Start-up (medians; seconds)", STARTUP_HEADER, startup_rows(report))
    _table(console, "Data-parallel scaling", scaling.HEADER, scaling.rows(report))
    _table(console, "Batch-1 latency", LATENCY_HEADER, latency_rows(report))
    _table(console, "Input pipelines (images/s; CPU and memory of the worker and its loaders)",
           dataload.PIPELINE_HEADER, dataload.pipeline_rows(report))
    _table(console, "Training from files vs from memory (samples/s; own processes, paired "
           "by round)",
           dataload.TRAIN_HEADER, dataload.train_rows(report))
    _lines(console, "Input-bound", dataload.input_bound_lines(report))
    _ease_of_development(console, report)
    matrix_header, matrix = deployment.export_matrix(report)
    _table(console, "Deployment: export matrix", matrix_header, matrix)
    _table(console, "Save and load", deployment.SAVE_HEADER, deployment.save_rows(report))
    _table(console, "Portable inference", deployment.EXPORT_HEADER, deployment.export_rows(report))
    _table(console, "Serving under load", deployment.SERVE_HEADER, deployment.serve_rows(report))
    _table(console, "Where the time went", phases.HEADER, phases.rows(report))
    _table(console, "A typical worker process (medians, seconds)", phases.FRAMEWORK_HEADER,
           phases.framework_rows(report))
    _lines(console, "Batch-size sweeps", sweep_lines(report))
    _lines(console, "Break-even of compiled modes", break_even_lines(report))
    checks = parity_lines(report)
    if checks:
        console.print("[bold]Same model?[/bold] (parity: parameters, outputs, gradients, "
                      "5 training steps from identical weights)")
        for line in checks:
            console.print(f"  • {sanitise.terminal(line)}")
    header, settings = manifest_table(report)
    if settings:
        manifest = Table(title="Fairness manifest (read back from each framework)",
                         title_justify="left")
        for name in header:
            manifest.add_column(name, overflow="fold")
        for values in settings:
            manifest.add_row(*(sanitise.terminal(value) for value in values))
        console.print(manifest)


def _ease_of_development(console: Console, report: Report) -> None:
    found = devex.tables(report)
    if not found:
        return
    console.print("[bold]Ease of development[/bold] (counts from the devex cells)")
    for title, header, rows in found:
        _table(console, title, header, rows)
    _lines(console, "The seeds' claims on ease of development",
           [f"{result.claim.source}: “{result.claim.quote}” — {result.status}: "
            f"{result.summary}" for result in judge_all(report) if result.claim.criterion])


def _table(console: Console, title: str, header: Sequence[str],
           rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(sanitise.terminal(value) for value in row))
    console.print(table)


def _lines(console: Console, title: str, lines: list[str]) -> None:
    if lines:
        console.print(f"[bold]{title}[/bold]")
        for line in lines:
            console.print(f"  • {sanitise.terminal(line)}")
