"""The self-contained HTML report: Jinja2 templates, inline SVG figures, no network.

The page draws `sections.SECTIONS` (order, titles, captions, when each is shown); each
renderer below gives one section's content: a template in templates/sections/ and its values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dlarena import __version__
from dlarena.analysis.verdict import ONE_PROCESS
from dlarena.report import (
    dataload,
    deployment,
    deployment_plots,
    devex,
    phases,
    plots,
    sanitise,
    scaling,
    sections,
)
from dlarena.report import formatting as fmt
from dlarena.report.analyses import sweeps
from dlarena.report.claims import ClaimResult, judge_all
from dlarena.report.model import Group, Report
from dlarena.report.paper import paper_note, paper_table
from dlarena.report.sections import Section, View
from dlarena.report.table import (
    CONVERGENCE_HEADER,
    LATENCY_HEADER,
    STARTUP_HEADER,
    break_even_lines,
    comparison_rows,
    control_line,
    convergence_rows,
    definitions_lines,
    hardware_lines,
    latency_rows,
    manifest_table,
    run_line,
    startup_rows,
    sweep_lines,
)


@dataclass(frozen=True)
class Page:
    view: View
    claims: list[ClaimResult]
    style: plots.FigureStyle

    @property
    def report(self) -> Report:
        return self.view.report


@dataclass(frozen=True)
class Body:
    """A section's content: the template that draws it and what the template reads."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Shown:
    """A section as the page template draws it."""

    id: str
    title: str
    note: str
    template: str
    context: dict[str, Any]


def _verdicts(page: Page) -> Body:
    groups = [g for g in page.report.groups if g.verdicts]
    figure = plots.verdicts_figure(page.report.groups, interval=page.report.interval_label)
    return Body("sections/verdicts.html.j2",
                {"groups": groups, "confidence": page.report.interval_label, "figure": figure,
                 "one_process": ONE_PROCESS, "control": control_line(page.report)})


def _claims(page: Page) -> Body:
    return Body("sections/claims.html.j2", {"claims": page.claims})


def _workloads(page: Page) -> Body:
    by_workload: dict[str, list[Group]] = {}
    for group in page.report.groups:
        by_workload.setdefault(group.workload, []).append(group)
    rows = comparison_rows(page.report)
    workloads = [
        {
            "name": name,
            "figure": plots.throughput_figure(name, groups, page.style),
            "rows": [row for row in rows if row.cells[0] == name],
        }
        for name, groups in by_workload.items()
    ]
    return Body("sections/workloads.html.j2", {
        "workloads": workloads, "memory": plots.memory_figure(page.report.groups, page.style)})


def _paper(page: Page) -> Body:
    reference = page.view.reference
    return Body("sections/paper.html.j2",
                {"table": paper_table(page.report, reference=reference),
                 "note": paper_note(page.report, reference=reference)})


def _convergence(page: Page) -> Body:
    by_workload: dict[str, list[Any]] = {}
    for cell in page.report.cells:
        if cell.stored.spec.scenario == "convergence":
            by_workload.setdefault(cell.stored.spec.workload, []).append(cell)
    figures = [figure for workload, cells in by_workload.items()
               if (figure := plots.learning_curves_figure(workload, cells, page.style)) is not None]
    memory = plots.memory_phases_figure(page.report.cells)
    return Body("sections/panel.html.j2", {
        "figures": [*figures, *([memory] if memory else [])], "lines": [],
        "header": CONVERGENCE_HEADER, "rows": convergence_rows(page.report)})


def _startup(page: Page) -> Body:
    return Body("sections/panel.html.j2", {
        "figures": [], "lines": break_even_lines(page.report),
        "header": STARTUP_HEADER, "rows": startup_rows(page.report)})


def _scaling(page: Page) -> Body:
    figure = scaling.figure(page.report, page.style)
    return Body("sections/panel.html.j2", {
        "figures": [figure] if figure else [], "lines": [],
        "header": scaling.HEADER, "rows": scaling.rows(page.report)})


def _phases(page: Page) -> Body:
    return Body("sections/panel.html.j2", {
        "figures": [], "header": phases.HEADER, "rows": phases.rows(page.report),
        "lines": [f"{row[0]}: " + ", ".join(f"{name} {value}" for name, value in
                                            zip(phases.FRAMEWORK_HEADER[1:], row[1:],
                                                strict=True))
                  for row in phases.framework_rows(page.report)]})


def _latency(page: Page) -> Body:
    figure = plots.latency_figure(page.report.cells, page.style)
    return Body("sections/panel.html.j2", {
        "figures": [figure] if figure else [], "lines": [],
        "header": LATENCY_HEADER, "rows": latency_rows(page.report)})


def _sweeps(page: Page) -> Body:
    return Body("sections/panel.html.j2", {
        "figures": [plots.sweep_figure(sweep, page.style) for sweep in sweeps(page.report)],
        "lines": sweep_lines(page.report), "header": [], "rows": []})


def _deployment(page: Page) -> Body:
    header, matrix = deployment.export_matrix(page.report)
    report, style = page.report, page.style
    parts = [
        {"title": title, "figure": figure, "header": columns, "rows": rows}
        for title, figure, columns, rows in (
            ("Save and load", deployment_plots.save_figure(report, style),
             deployment.SAVE_HEADER, deployment.save_rows(report)),
            ("Portable inference", deployment_plots.portable_figure(report, style),
             deployment.EXPORT_HEADER, deployment.export_rows(report)),
            ("Serving under load", deployment_plots.load_curve_figure(report, style),
             deployment.SERVE_HEADER, deployment.serve_rows(report)),
            (deployment.TORCHSERVE_TITLE, None, deployment.TORCHSERVE_HEADER,
             deployment.torchserve_rows(report)))
        if rows
    ]
    return Body("sections/deployment.html.j2",
                {"matrix_header": header, "matrix": matrix, "parts": parts})


def _pipelines(page: Page) -> Body:
    return Body("sections/panel.html.j2", {
        "figures": [], "lines": [], "header": dataload.PIPELINE_HEADER,
        "rows": dataload.pipeline_rows(page.report)})


def _from_files(page: Page) -> Body:
    return Body("sections/panel.html.j2", {
        "figures": [], "lines": dataload.input_bound_lines(page.report),
        "header": dataload.TRAIN_HEADER, "rows": dataload.train_rows(page.report)})


def _not_measured(page: Page) -> Body:
    return Body("sections/not_measured.html.j2", {
        "missing": [(section.title, section.measured_by)
                    for section in sections.not_measured(page.view)]})


def _parity(page: Page) -> Body:
    return Body("sections/parity.html.j2", {
        "results": page.report.parity, "unchecked": page.report.unchecked_pairs})


def _manifest(page: Page) -> Body:
    header, rows = manifest_table(page.report)
    return Body("sections/panel.html.j2",
                {"figures": [], "lines": [], "header": header, "rows": rows})


def _environment(page: Page) -> Body:
    env = page.report.run.environment
    rows = [["hardware", line] for line in hardware_lines(page.report)]
    rows += [["definitions", line] for line in definitions_lines(page.report)]
    # The definitions are a table of their own, not one line of text.
    rows += [[key, str(value)] for key, value in env.items() if key != "definitions"]
    return Body("sections/panel.html.j2",
                {"figures": [], "lines": [], "header": ["", "value"], "rows": rows})


def _devex(page: Page) -> Body:
    tables = [{"title": title, "header": header, "rows": rows}
              for title, header, rows in devex.tables(page.report)]
    return Body("sections/devex.html.j2", {"tables": tables})


def _problems(page: Page) -> Body:
    failed = [
        {"label": cell.stored.spec.label, "error": cell.stored.error or "",
         "stderr": "\n".join(tail for tail in cell.stored.stderr_tails if tail)}
        for cell in page.report.failed
    ]
    unstable = [{"label": cell.stored.spec.label, "flags": list(cell.flags)}
                for cell in page.report.cells if cell.flags]
    unsupported = [{"label": cell.stored.spec.label, "reason": cell.stored.error or ""}
                   for cell in page.report.unsupported]
    return Body("sections/problems.html.j2",
                {"failed": failed, "unstable": unstable, "unsupported": unsupported})


# One renderer per section of `sections.SECTIONS`, which sets their order and titles.
RENDERERS: dict[str, Callable[[Page], Body]] = {
    "verdicts": _verdicts, "claims": _claims, "paper": _paper, "throughput": _workloads,
    "learning-curves": _convergence, "sweeps": _sweeps, "latency": _latency,
    "startup": _startup, "scaling": _scaling, "devex": _devex, "pipelines": _pipelines,
    "from-files": _from_files, "deployment": _deployment, "not-measured": _not_measured,
    "parity": _parity, "manifest": _manifest, "phases": _phases,
    "environment": _environment, "problems": _problems,
}


def _draw(section: Section, page: Page) -> Shown:
    body = RENDERERS[section.id](page)
    return Shown(section.id, section.title, section.caption(page.report), body.template,
                 body.context)


def render(report: Report, *, reference: str | None = None) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
    from markupsafe import Markup

    templates = Environment(
        loader=PackageLoader("dlarena.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters["number"] = fmt.number
    # Every value a template shows is sanitised, then escaped by autoescape; markup built
    # here on purpose (a plot's SVG, marked `safe`) is left as it is.
    templates.finalize = lambda value: (sanitise.lines(value) if isinstance(value, str)
                                        and not isinstance(value, Markup) else value)
    view = View(report, reference)
    page = Page(view, judge_all(report), plots.FigureStyle.of(report))
    shown = [_draw(section, page) for section in sections.shown(view)]
    return templates.get_template("report.html.j2").render(
        title=f"dlarena report · run {report.run.id}",
        run_line=run_line(report),
        notes=report.definitions_notes,
        sections=shown,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        version=__version__,
    )
