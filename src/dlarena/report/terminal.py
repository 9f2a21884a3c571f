"""The comparison in the terminal: `sections.SECTIONS` in order, one renderer per section."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from dlarena.report import dataload, deployment, devex, phases, sanitise, scaling, sections
from dlarena.report.claims import judge_all
from dlarena.report.model import Report
from dlarena.report.paper import paper_note, paper_table
from dlarena.report.sections import View
from dlarena.report.table import (
    CONVERGENCE_HEADER,
    HEADER,
    LATENCY_HEADER,
    NUMERIC,
    PROBLEMS_NONE,
    STARTUP_HEADER,
    break_even_lines,
    comparison_rows,
    control_line,
    convergence_rows,
    hardware_lines,
    latency_rows,
    manifest_table,
    parity_lines,
    problem_parts,
    run_line,
    startup_rows,
    sweep_lines,
    verdict_lines,
)


def _table(console: Console, title: str | None, header: Sequence[str],
           rows: Sequence[Sequence[str]]) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    for name in header:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(sanitise.terminal(value) for value in row))
    console.print(table)


def _lines(console: Console, title: str | None, lines: Sequence[str]) -> None:
    if lines and title:
        console.print(f"[bold]{title}[/bold]")
    for line in lines:
        console.print(f"  • {sanitise.terminal(line)}")


def _verdicts(console: Console, view: View) -> None:
    _lines(console, None, verdict_lines(view.report) or ["no pair of measured cells to compare"])
    console.print(sanitise.terminal(control_line(view.report)), style="dim")


def _claims(console: Console, view: View) -> None:
    _lines(console, None, [f"{result.status} — {result.claim.english} "
                           f"({result.claim.source}): {result.summary}"
                           for result in judge_all(view.report)])


def _paper(console: Console, view: View) -> None:
    paper = paper_table(view.report, reference=view.reference)
    if paper is None:
        return
    _table(console, None, paper.header, paper.lines)
    _table(console, "FLOP rate of the published table's models", paper.gflops_header,
           paper.gflops_rows)
    console.print(sanitise.terminal(paper_note(view.report, reference=view.reference)),
                  style="dim")


def _throughput(console: Console, view: View) -> None:
    table = Table(show_lines=False)
    for name in HEADER:
        table.add_column(name, justify="right" if name in NUMERIC else "left",
                         overflow="fold", max_width=60 if name == "notes" else None)
    for row in comparison_rows(view.report):
        style = ("red" if row.failed else "dim" if row.unsupported
                 else "yellow" if row.flagged else None)
        table.add_row(*(sanitise.terminal(text) for text in row.cells), style=style)
    console.print(table)


def _convergence(console: Console, view: View) -> None:
    _table(console, None, CONVERGENCE_HEADER, convergence_rows(view.report))


def _sweeps(console: Console, view: View) -> None:
    _lines(console, None, sweep_lines(view.report))


def _latency(console: Console, view: View) -> None:
    _table(console, None, LATENCY_HEADER, latency_rows(view.report))


def _startup(console: Console, view: View) -> None:
    _table(console, None, STARTUP_HEADER, startup_rows(view.report))
    _lines(console, "Break-even of compiled modes", break_even_lines(view.report))


def _scaling(console: Console, view: View) -> None:
    _table(console, None, scaling.HEADER, scaling.rows(view.report))


def _phases(console: Console, view: View) -> None:
    _table(console, None, phases.HEADER, phases.rows(view.report))
    _table(console, "A typical worker process (medians, seconds)", phases.FRAMEWORK_HEADER,
           phases.framework_rows(view.report))


def _devex(console: Console, view: View) -> None:
    for title, header, rows in devex.tables(view.report):
        _table(console, title, header, rows)
    _lines(console, "The seeds' claims on ease of development",
           [f"{result.claim.source}: “{result.claim.quote}” — {result.status}: "
            f"{result.summary}" for result in judge_all(view.report) if result.claim.criterion])


def _pipelines(console: Console, view: View) -> None:
    _table(console, None, dataload.PIPELINE_HEADER, dataload.pipeline_rows(view.report))


def _from_files(console: Console, view: View) -> None:
    _table(console, None, dataload.TRAIN_HEADER, dataload.train_rows(view.report))
    _lines(console, "Input-bound", dataload.input_bound_lines(view.report))


def _deployment(console: Console, view: View) -> None:
    report = view.report
    matrix_header, matrix = deployment.export_matrix(report)
    _table(console, "Export matrix", matrix_header, matrix)
    _table(console, "Save and load", deployment.SAVE_HEADER, deployment.save_rows(report))
    _table(console, "Portable inference", deployment.EXPORT_HEADER, deployment.export_rows(report))
    _table(console, "Serving under load", deployment.SERVE_HEADER, deployment.serve_rows(report))
    _table(console, deployment.TORCHSERVE_TITLE, deployment.TORCHSERVE_HEADER,
           deployment.torchserve_rows(report))


def _not_measured(console: Console, view: View) -> None:
    _lines(console, None, [f"{section.title}: {section.measured_by}"
                           for section in sections.not_measured(view)])


def _parity(console: Console, view: View) -> None:
    _lines(console, None, parity_lines(view.report) or ["no pair of frameworks to check"])


def _manifest(console: Console, view: View) -> None:
    header, rows = manifest_table(view.report)
    _table(console, None, header, rows)


def _environment(console: Console, view: View) -> None:
    _lines(console, None, hardware_lines(view.report))


def _problems(console: Console, view: View) -> None:
    parts = problem_parts(view.report)
    if not parts:
        console.print(PROBLEMS_NONE)
    for title, lines in parts:
        _lines(console, title, lines)


# One renderer per section of `sections.SECTIONS`, which sets their order and titles.
RENDERERS: dict[str, Callable[[Console, View], None]] = {
    "verdicts": _verdicts, "claims": _claims, "paper": _paper, "throughput": _throughput,
    "learning-curves": _convergence, "sweeps": _sweeps, "latency": _latency,
    "startup": _startup, "scaling": _scaling, "devex": _devex, "pipelines": _pipelines,
    "from-files": _from_files, "deployment": _deployment, "not-measured": _not_measured,
    "parity": _parity, "manifest": _manifest, "phases": _phases,
    "environment": _environment, "problems": _problems,
}


def render(report: Report, console: Console, *, reference: str | None = None) -> None:
    view = View(report, reference)
    console.print("[bold]dlarena comparison[/bold]")
    console.print(sanitise.terminal(run_line(report)), style="dim")
    for note in report.definitions_notes:
        console.print(sanitise.terminal(note), style="yellow")
    for section in sections.shown(view):
        console.rule(f"[bold]{section.title}[/bold]", align="left")
        caption = section.caption(report)
        if caption:
            console.print(sanitise.terminal(caption), style="dim")
        RENDERERS[section.id](console, view)
