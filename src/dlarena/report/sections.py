"""The report's sections, in order, for every format: id, title, caption, when each is shown.

Terminal, Markdown and HTML render this one list, each with one renderer per section id, so a
section has the same title, place and caption in every format. Adding a section = one entry
here and one renderer in each format (`tests/report/test_sections.py` checks all three).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dlarena.parity.compare import REDUCED_PRECISION_LIMIT, TOLERANCES
from dlarena.report import dataload, deployment, devex, phases, scaling
from dlarena.report.analyses import sweeps
from dlarena.report.facts import VERDICT_RULES, VERDICT_RULES_VERSION
from dlarena.report.model import Report
from dlarena.report.paper import paper_table
from dlarena.report.table import (
    comparison_rows,
    convergence_rows,
    latency_rows,
    manifest_table,
    startup_rows,
)
from dlarena.scenarios.pipelines import INPUT_BOUND_RATIO


@dataclass(frozen=True)
class View:
    """What a report shows: a stored run, with the published table's reference framework."""

    report: Report
    # The framework the published table's ratios are against; None: the table's own.
    reference: str | None = None


def _always(view: View) -> bool:
    return True


@dataclass(frozen=True)
class Section:
    id: str  # the HTML anchor, and the key of each format's renderer
    title: str
    # A caption under the title: fixed text, or text read from the report.
    note: str | Callable[[Report], str] = ""
    shown: Callable[[View], bool] = _always
    # What measures this section, listed under "Not measured by this run" when it is absent.
    measured_by: str = ""

    def caption(self, report: Report) -> str:
        return self.note if isinstance(self.note, str) else self.note(report)


def _verdicts_note(report: Report) -> str:
    return (f"Ratios of medians with {report.interval_label} confidence intervals by "
            f"{VERDICT_RULES[VERDICT_RULES_VERSION]}; a difference is significant when its "
            "interval excludes 1.")


_PARITY_NOTE = (
    "In float64, from identical canonical weights and batches, each pair in the modes the run "
    "measured: parameter names, shapes and counts; every weighted layer's output in inference "
    "and training mode; the loss and every gradient; the losses of 5 Adam and 5 SGD steps; the "
    "trained weights and BatchNorm running variances (unbiased and biased batch-variance "
    "conventions converted exactly). Tolerances, relative to max(1, max |reference|), set from "
    "the agreement correct implementations reach in float64 (see parity/compare.py): "
    + ", ".join(f"{name} {tolerance:.0e}" for name, tolerance in TOLERANCES.items())
    + ". Each framework/mode's timed float32 path is audited against its own float64 result "
    f"and flagged at {REDUCED_PRECISION_LIMIT:.0f}x float32's expected rounding error "
    "(precision_audit in the manifest).")


SECTIONS: tuple[Section, ...] = (
    Section("verdicts", "Verdicts", _verdicts_note),
    Section("claims", "The articles' claims, measured",
            "Each claim of the comparison articles, judged by this run's verdicts (holds · "
            "does not hold · no significant difference · mixed when workloads disagree · too "
            "few samples · not measured by this run)."),
    Section("paper", "Beside the published table",
            shown=lambda view: paper_table(view.report, reference=view.reference) is not None),
    Section("throughput", "Per workload",
            "One row per cell: median of the scenario's headline metric, its 95% bootstrap "
            "interval, spread within and between worker processes, peak resident memory.",
            shown=lambda view: bool(comparison_rows(view.report))),
    Section("learning-curves", "Accuracy, training time and memory on real data",
            "Medians over seeds; each seed is its own worker process, with identical initial "
            "weights and data order in every framework. Training time covers the training "
            "loops (host-to-device copies included, evaluation excluded). Peak RSS per phase: "
            "loading the dataset, up to a built model (framework import included), training. "
            "The same curves are written as TensorBoard event files next to the results "
            "database (tensorboard --logdir results/tensorboard).",
            shown=lambda view: bool(convergence_rows(view.report)),
            measured_by="accuracy, loss and peak RSS per phase on real data "
                        "(scenario convergence)"),
    Section("sweeps", "Batch-size sweeps",
            "Median per batch size with 95% bootstrap intervals, and where the leader changes.",
            shown=lambda view: bool(sweeps(view.report)),
            measured_by="throughput against batch size (--batch-sizes)"),
    Section("latency", "Batch-1 latency",
            "One request at a time, each synchronised, after warm-up.",
            shown=lambda view: bool(latency_rows(view.report)),
            measured_by="batch-1 request latency (scenario latency)"),
    Section("startup", "Start-up",
            "Medians over worker processes, in seconds. First result = framework import + "
            "model build + first training step (tracing, compilation). Compiler caches start "
            "empty in every worker. Break-even: after how many training steps a mode's extra "
            "start-up is repaid by faster steps.",
            shown=lambda view: bool(startup_rows(view.report)),
            measured_by="import, build, first step (scenario startup)"),
    Section("scaling", "Data-parallel scaling", scaling.NOTE,
            shown=lambda view: bool(scaling.rows(view.report)),
            measured_by="N ranks against one (scenario train-ddp)"),
    Section("devex", "Ease of development", devex.NOTE,
            shown=lambda view: bool(devex.tables(view.report)),
            measured_by="code size, debugger reach and planted mistakes (the devex suite)"),
    Section("pipelines", "Input pipelines",
            "Each framework's own loader reading the generated JPEG files (or its record "
            "shards): decode, random resized crop, flip, normalise, batch. Images/s of the "
            "pipeline alone; CPU time and peak resident memory of the worker and its loader "
            "processes together.",
            shown=lambda view: bool(dataload.pipeline_rows(view.report))),
    Section("from-files", "Training from files",
            "The training step fed by the input pipeline (one cell per loader-worker count) "
            "against the same step fed from batches in memory (the train scenario's cell), "
            "each in worker processes of its own, paired round by round (samples/s). "
            f"Input-bound: the interval of files / memory below {INPUT_BOUND_RATIO:g}x; keeps "
            "up: at or above it; otherwise undecided.",
            shown=lambda view: bool(dataload.train_rows(view.report))),
    Section("deployment", "Deployment", deployment.NOTE,
            shown=lambda view: bool(deployment.export_matrix(view.report)[1])),
    Section("not-measured", "Not measured by this run",
            "Sections this report shows when a run measures them:",
            shown=lambda view: bool(not_measured(view))),
    Section("parity", "Same model? (parity)", _PARITY_NOTE),
    Section("manifest", "Fairness manifest",
            "Settings read back from each framework inside its workers.",
            shown=lambda view: bool(manifest_table(view.report)[1])),
    Section("phases", "Where the time went", phases.NOTE,
            shown=lambda view: bool(phases.rows(view.report))),
    Section("environment", "Environment", lambda report: report.run.command),
    Section("problems", "Failed, unsupported and unstable cells"),
)

IDS = tuple(section.id for section in SECTIONS)


def shown(view: View) -> list[Section]:
    """The sections this report shows, in order."""
    return [section for section in SECTIONS if section.shown(view)]


def not_measured(view: View) -> list[Section]:
    """The sections a run could measure that this one did not."""
    return [section for section in SECTIONS
            if section.measured_by and not section.shown(view)]
