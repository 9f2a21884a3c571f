"""The self-contained HTML report: Jinja2 templates, inline SVG figures, no network.

The page is a list of sections; each builder below returns one (or None when the run has
nothing for it). Adding a section = one builder + one template in templates/sections/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dlarena import __version__
from dlarena.measure.dataload import INPUT_BOUND_RATIO
from dlarena.measure.verdict import ONE_PROCESS
from dlarena.parity.compare import REDUCED_PRECISION_LIMIT, TOLERANCES
from dlarena.report import (
    dataload,
    deployment,
    deployment_plots,
    devex,
    phases,
    plots,
    sanitise,
    scaling,
)
from dlarena.report import formatting as fmt
from dlarena.report.analyses import sweeps
from dlarena.report.claims import ClaimResult, judge_all
from dlarena.report.facts import VERDICT_RULES, VERDICT_RULES_VERSION
from dlarena.report.model import Group, Report
from dlarena.report.paper import paper_note, paper_table
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
class Section:
    id: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    report: Report
    claims: list[ClaimResult]
    style: plots.FigureStyle
    # The framework the published table's ratios are against; None: the table's own.
    reference: str | None = None


SectionBuilder = Callable[[Page], Section | None]


def _glance(page: Page) -> Section | None:
    figure = plots.verdicts_figure(page.report.groups, interval=page.report.interval_label)
    if figure is None:
        return None
    return Section("glance", "Verdicts at a glance", "sections/glance.html.j2",
                   {"figure": figure, "confidence": page.report.interval_label})


def _verdicts(page: Page) -> Section:
    groups = [g for g in page.report.groups if g.verdicts]
    return Section("verdicts", "Verdicts", "sections/verdicts.html.j2",
                   {"groups": groups, "confidence": page.report.interval_label,
                    "rules": VERDICT_RULES[VERDICT_RULES_VERSION],
                    "one_process": ONE_PROCESS, "control": control_line(page.report)})


def _claims(page: Page) -> Section:
    return Section("claims", "The articles' claims, measured", "sections/claims.html.j2",
                   {"claims": page.claims})


def _workloads(page: Page) -> Section | None:
    by_workload: dict[str, list[Group]] = {}
    for group in page.report.groups:
        by_workload.setdefault(group.workload, []).append(group)
    if not by_workload:
        return None
    rows = comparison_rows(page.report)
    workloads = [
        {
            "name": name,
            "figure": plots.throughput_figure(name, groups, page.style),
            "rows": [row for row in rows if row.cells[0] == name],
        }
        for name, groups in by_workload.items()
    ]
    return Section("throughput", "Per workload", "sections/workloads.html.j2",
                   {"workloads": workloads})


def _paper(page: Page) -> Section | None:
    table = paper_table(page.report, reference=page.reference)
    if table is None:
        return None
    return Section("paper", "Beside the published table", "sections/paper.html.j2",
                   {"table": table, "note": paper_note(page.report, reference=page.reference)})


def _memory(page: Page) -> Section | None:
    figure = plots.memory_figure(page.report.groups, page.style)
    if figure is None:
        return None
    return Section("memory", "Memory", "sections/memory.html.j2", {"figure": figure})


def _convergence(page: Page) -> Section | None:
    rows = convergence_rows(page.report)
    if not rows:
        return None
    by_workload: dict[str, list[Any]] = {}
    for cell in page.report.cells:
        if cell.stored.spec.scenario == "convergence":
            by_workload.setdefault(cell.stored.spec.workload, []).append(cell)
    figures = [figure for workload, cells in by_workload.items()
               if (figure := plots.learning_curves_figure(workload, cells, page.style)) is not None]
    memory = plots.memory_phases_figure(page.report.cells)
    return Section("learning-curves", "Accuracy, training time and memory on real data",
                   "sections/convergence.html.j2", {
                       "figures": [*figures, *([memory] if memory else [])],
                       "header": CONVERGENCE_HEADER, "rows": rows,
                   })


def _startup(page: Page) -> Section | None:
    rows = startup_rows(page.report)
    if not rows:
        return None
    return Section("startup", "Start-up", "sections/panel.html.j2", {
        "figure": None, "lines": break_even_lines(page.report),
        "header": STARTUP_HEADER, "rows": rows,
        "note": "Medians over worker processes. First result = framework import + model "
                "build + first training step (tracing, compilation). Compiler caches start "
                "empty in every worker. Lines: after how many training steps a mode's extra "
                "start-up is repaid by faster steps.",
    })


def _scaling(page: Page) -> Section | None:
    rows = scaling.rows(page.report)
    if not rows:
        return None
    return Section("scaling", "Data-parallel scaling", "sections/panel.html.j2", {
        "figure": scaling.figure(page.report, page.style), "lines": [],
        "header": scaling.HEADER, "rows": rows, "note": scaling.NOTE,
    })


def _phases(page: Page) -> Section | None:
    rows = phases.rows(page.report)
    if not rows:
        return None
    return Section("phases", "Where the time went", "sections/panel.html.j2", {
        "figure": None, "header": phases.HEADER, "rows": rows, "note": phases.NOTE,
        "lines": [f"{row[0]}: " + ", ".join(f"{name} {value}" for name, value in
                                            zip(phases.FRAMEWORK_HEADER[1:], row[1:],
                                                strict=True))
                  for row in phases.framework_rows(page.report)],
    })


def _latency(page: Page) -> Section | None:
    rows = latency_rows(page.report)
    if not rows:
        return None
    return Section("latency", "Batch-1 latency", "sections/panel.html.j2", {
        "figure": plots.latency_figure(page.report.cells, page.style), "lines": [],
        "header": LATENCY_HEADER, "rows": rows,
        "note": "One request at a time, each synchronised, after warm-up.",
    })


def _sweeps(page: Page) -> Section | None:
    found = sweeps(page.report)
    if not found:
        return None
    return Section("sweeps", "Batch-size sweeps", "sections/sweeps.html.j2", {
        "figures": [plots.sweep_figure(sweep, page.style) for sweep in found],
        "lines": sweep_lines(page.report),
    })


def _deployment(page: Page) -> Section | None:
    header, matrix = deployment.export_matrix(page.report)
    if not matrix:
        return None
    report, style = page.report, page.style
    parts = [
        {"title": title, "figure": figure, "header": columns, "rows": rows}
        for title, figure, columns, rows in (
            ("Save and load", deployment_plots.save_figure(report, style),
             deployment.SAVE_HEADER, deployment.save_rows(report)),
            ("Portable inference", deployment_plots.portable_figure(report, style),
             deployment.EXPORT_HEADER, deployment.export_rows(report)),
            ("Serving under load", deployment_plots.load_curve_figure(report, style),
             deployment.SERVE_HEADER, deployment.serve_rows(report)))
        if rows
    ]
    return Section("deployment", "Deployment", "sections/deployment.html.j2", {
        "note": deployment.NOTE, "matrix_header": header, "matrix": matrix, "parts": parts})


def _pipelines(page: Page) -> Section | None:
    rows = dataload.pipeline_rows(page.report)
    if not rows:
        return None
    return Section("pipelines", "Input pipelines", "sections/panel.html.j2", {
        "figure": None, "lines": [], "header": dataload.PIPELINE_HEADER, "rows": rows,
        "note": "Each framework's own loader reading the generated JPEG files (or its record "
                "shards): decode, random resized crop, flip, normalise, batch. Images/s of the "
                "pipeline alone; CPU time and peak resident memory of the worker and its loader "
                "processes together.",
    })


def _from_files(page: Page) -> Section | None:
    rows = dataload.train_rows(page.report)
    if not rows:
        return None
    return Section("from-files", "Training from files", "sections/panel.html.j2", {
        "figure": None, "lines": dataload.input_bound_lines(page.report),
        "header": dataload.TRAIN_HEADER, "rows": rows,
        "note": "The training step fed by the input pipeline (one cell per loader-worker "
                "count) against the same step fed from batches in memory (the train "
                "scenario's cell), each in worker processes of its own, paired round by "
                f"round. Input-bound: the interval of files / memory below "
                f"{INPUT_BOUND_RATIO:g}x; keeps up: at or above it; otherwise undecided.",
    })


_MEASURED_ELSEWHERE = (
    ("sweeps", "Batch-size sweeps", "throughput against batch size (--batch-sizes)"),
    ("latency", "Latency distributions", "batch-1 request latency (scenario latency)"),
    ("startup", "Start-up and break-even", "import, build, first step (scenario startup)"),
    ("learning-curves", "Learning curves and memory by phase",
     "accuracy, loss and peak RSS per phase on real data (scenario convergence)"),
    ("devex", "Ease of development", "code size, debugger reach and planted mistakes "
     "(the devex suite)"),
)


def _not_measured(page: Page, present: set[str]) -> Section | None:
    missing = [(name, what) for anchor, name, what in _MEASURED_ELSEWHERE
               if anchor not in present]
    if not missing:
        return None
    return Section("not-measured", "Not measured by this run", "sections/not_measured.html.j2",
                   {"missing": missing})


def _parity(page: Page) -> Section:
    return Section("parity", "Same model? (parity)", "sections/parity.html.j2", {
        "results": page.report.parity,
        "unchecked": page.report.unchecked_pairs,
        "tolerances": ", ".join(f"{name} {tolerance:.0e}"
                                for name, tolerance in TOLERANCES.items()),
        "limit": f"{REDUCED_PRECISION_LIMIT:.0f}",
    })


def _manifest(page: Page) -> Section | None:
    header, rows = manifest_table(page.report)
    if not rows:
        return None
    return Section("manifest", "Fairness manifest", "sections/table.html.j2",
                   {"header": header, "rows": rows,
                    "note": "Settings read back from each framework inside its workers."})


def _environment(page: Page) -> Section:
    env = page.report.run.environment
    rows = [["hardware", line] for line in hardware_lines(page.report)]
    rows += [["definitions", line] for line in definitions_lines(page.report)]
    # The definitions are a table of their own, not one line of text.
    rows += [[key, str(value)] for key, value in env.items() if key != "definitions"]
    return Section("environment", "Environment", "sections/table.html.j2",
                   {"header": ["", "value"], "rows": rows, "note": page.report.run.command})


def _devex(page: Page) -> Section | None:
    tables = [{"title": title, "header": header, "rows": rows}
              for title, header, rows in devex.tables(page.report)]
    if not tables:
        return None
    return Section("devex", "Ease of development", "sections/devex.html.j2", {
        "tables": tables, "note": devex.NOTE})


def _problems(page: Page) -> Section:
    failed = [
        {"label": cell.stored.spec.label, "error": cell.stored.error or "",
         "stderr": "\n".join(tail for tail in cell.stored.stderr_tails if tail)}
        for cell in page.report.failed
    ]
    unstable = [{"label": cell.stored.spec.label, "flags": list(cell.flags)}
                for cell in page.report.cells if cell.flags]
    unsupported = [{"label": cell.stored.spec.label, "reason": cell.stored.error or ""}
                   for cell in page.report.unsupported]
    return Section("problems", "Failed, unsupported and unstable cells",
                   "sections/problems.html.j2",
                   {"failed": failed, "unstable": unstable, "unsupported": unsupported})


SECTIONS: list[SectionBuilder] = [
    _glance, _verdicts, _claims, _paper, _workloads, _convergence, _sweeps, _latency, _startup,
    _scaling,
    _devex, _pipelines, _from_files, _memory, _deployment, _parity, _manifest,
    _phases, _environment, _problems,
]


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
    page = Page(report, judge_all(report), plots.FigureStyle.of(report), reference)
    sections = [section for build in SECTIONS if (section := build(page)) is not None]
    missing = _not_measured(page, {section.id for section in sections})
    if missing is not None:
        # Before the parity section, which every report has.
        sections.insert([section.id for section in sections].index("parity"), missing)
    return templates.get_template("report.html.j2").render(
        title=f"dlarena report · run {report.run.id}",
        run_line=run_line(report),
        notes=report.definitions_notes,
        sections=sections,
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        version=__version__,
    )
