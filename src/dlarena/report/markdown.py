"""The comparison as Markdown: `sections.SECTIONS` in order, one renderer per section."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dlarena.report import dataload, deployment, devex, phases, sanitise, scaling, sections
from dlarena.report.claims import judge_all
from dlarena.report.model import Report
from dlarena.report.paper import paper_note, paper_table
from dlarena.report.sections import View
from dlarena.report.table import (
    CONVERGENCE_HEADER,
    HEADER,
    LATENCY_HEADER,
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


def _cell(text: str) -> str:
    """Text from users and error messages must not become HTML when the Markdown is rendered."""
    return sanitise.markdown(text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return []
    return [
        "| " + " | ".join(_cell(name) for name in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(_cell(value) for value in row) + " |" for row in rows),
    ]


def _items(lines: Sequence[str]) -> list[str]:
    return [f"- {_cell(line)}" for line in lines]


def _part(title: str, body: list[str]) -> list[str]:
    """A sub-section: nothing when it has nothing to show."""
    return ["", f"### {title}", "", *body] if body else []


def _verdicts(view: View) -> list[str]:
    verdicts = verdict_lines(view.report)
    return [*(_items(verdicts) or ["- no pair of measured cells to compare"]),
            "", _cell(control_line(view.report))]


def _claims(view: View) -> list[str]:
    return [f"- **{_cell(result.status)}** — {_cell(result.claim.english)} "
            f"({_cell(result.claim.source)}): {_cell(result.summary)}"
            for result in judge_all(view.report)]


def _paper(view: View) -> list[str]:
    paper = paper_table(view.report, reference=view.reference)
    if paper is None:
        return []
    return [*_table(paper.header, paper.lines),
            *_part("FLOP rate of the published table's models",
                   _table(paper.gflops_header, paper.gflops_rows)),
            "", _cell(paper_note(view.report, reference=view.reference))]


def _throughput(view: View) -> list[str]:
    return _table(HEADER, [row.cells for row in comparison_rows(view.report)])


def _convergence(view: View) -> list[str]:
    return _table(CONVERGENCE_HEADER, convergence_rows(view.report))


def _sweeps(view: View) -> list[str]:
    return _items(sweep_lines(view.report))


def _latency(view: View) -> list[str]:
    return _table(LATENCY_HEADER, latency_rows(view.report))


def _startup(view: View) -> list[str]:
    return [*_table(STARTUP_HEADER, startup_rows(view.report)),
            *_part("Break-even of compiled modes", _items(break_even_lines(view.report)))]


def _scaling(view: View) -> list[str]:
    return _table(scaling.HEADER, scaling.rows(view.report))


def _phases(view: View) -> list[str]:
    return [*_table(phases.HEADER, phases.rows(view.report)),
            *_part("A typical worker process (medians, seconds)",
                   _table(phases.FRAMEWORK_HEADER, phases.framework_rows(view.report)))]


def _devex(view: View) -> list[str]:
    lines: list[str] = []
    for heading, header, rows in devex.tables(view.report):
        lines += _part(heading, _table(header, rows))
    claims = [f"- **{_cell(result.status)}** — {_cell(result.claim.source)}: "
              f"“{_cell(result.claim.quote)}” ({_cell(result.claim.english)}) "
              f"{_cell(result.summary)}"
              for result in judge_all(view.report) if result.claim.criterion]
    return lines + _part("The seeds' claims on ease of development", claims)


def _pipelines(view: View) -> list[str]:
    return _table(dataload.PIPELINE_HEADER, dataload.pipeline_rows(view.report))


def _from_files(view: View) -> list[str]:
    report = view.report
    return [*_table(dataload.TRAIN_HEADER, dataload.train_rows(report)),
            *_part("Input-bound", _items(dataload.input_bound_lines(report)))]


def _deployment(view: View) -> list[str]:
    report = view.report
    header, matrix = deployment.export_matrix(report)
    lines = _part("Export matrix", _table(header, matrix))
    for title, columns, body in (
            ("Save and load", deployment.SAVE_HEADER, deployment.save_rows(report)),
            ("Portable inference", deployment.EXPORT_HEADER, deployment.export_rows(report)),
            ("Serving under load", deployment.SERVE_HEADER, deployment.serve_rows(report)),
            (deployment.TORCHSERVE_TITLE, deployment.TORCHSERVE_HEADER,
             deployment.torchserve_rows(report))):
        lines += _part(title, _table(columns, body))
    return lines


def _not_measured(view: View) -> list[str]:
    return [f"- **{_cell(section.title)}**: {_cell(section.measured_by)}"
            for section in sections.not_measured(view)]


def _parity(view: View) -> list[str]:
    return _items(parity_lines(view.report)) or ["- no pair of frameworks to check"]


def _manifest(view: View) -> list[str]:
    header, rows = manifest_table(view.report)
    return _table(header, rows)


def _environment(view: View) -> list[str]:
    return _items(hardware_lines(view.report))


def _problems(view: View) -> list[str]:
    parts = problem_parts(view.report)
    if not parts:
        return [PROBLEMS_NONE]
    return [line for title, lines in parts for line in _part(title, _items(lines))]


# One renderer per section of `sections.SECTIONS`, which sets their order and titles.
RENDERERS: dict[str, Callable[[View], list[str]]] = {
    "verdicts": _verdicts, "claims": _claims, "paper": _paper, "throughput": _throughput,
    "learning-curves": _convergence, "sweeps": _sweeps, "latency": _latency,
    "startup": _startup, "scaling": _scaling, "devex": _devex, "pipelines": _pipelines,
    "from-files": _from_files, "deployment": _deployment, "not-measured": _not_measured,
    "parity": _parity, "manifest": _manifest, "phases": _phases,
    "environment": _environment, "problems": _problems,
}


def render(report: Report, *, reference: str | None = None) -> str:
    view = View(report, reference)
    lines = ["# dlarena comparison", "", _cell(run_line(report))]
    if report.definitions_notes:
        lines += ["", *(f"- **{_cell(note)}**" for note in report.definitions_notes)]
    for section in sections.shown(view):
        lines += ["", f"## {section.title}", ""]
        caption = section.caption(report)
        if caption:
            lines += [_cell(caption), ""]
        body = RENDERERS[section.id](view)
        lines += body[1:] if body[:1] == [""] else body  # a sub-section's blank line is there
    return "\n".join(lines) + "\n"
