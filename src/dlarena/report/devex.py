"""Ease of development: the devex cells as tables, and the rules that judge the seeds' claims.

Everything here is a count read from the store (no statistics: the devex scenario measures no
time). A framework is named only by what the cells hold, so a framework added later gets its
rows without a change here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dlarena.report.model import CellReport, Report

SCENARIO = "devex"
CODE_HEADER = ("workload", "framework", "lines", "statements", "tokens", "API calls",
               "API names", "beyond the layers")
CODE_TOTAL_HEADER = ("framework", "workloads", "lines", "statements", "tokens", "API calls",
                     "distinct API names")
PROBE_HEADER = ("framework/mode", "forward probed", "stops (of steps)", "value seen there",
                "every step, with numbers")
MISTAKE_HEADER = ("mistake", "framework/mode", "outcome", "innermost user frame",
                  "at the mistake", "mistake's line shown", "internal frames below",
                  "traceback lines", "message chars")
NOTE = ("Counts from the devex cells: code size read from each implementation file's AST "
        "(shared base classes not counted); a sys.settrace probe (how pdb stops) in the "
        "model's forward pass; classic mistakes planted in a scratch copy of the "
        "implementation (the real files are never written), one training step each.")
# Code sizes within this fraction of each other are called the same in a claim's judgement.
SAME_SIZE = 0.05


def devex_cells(report: Report) -> list[CellReport]:
    return [cell for cell in report.cells
            if cell.stored.spec.scenario == SCENARIO and cell.stored.ok and _details(cell)]


def _details(cell: CellReport) -> dict[str, Any]:
    for details in cell.stored.details:
        found = details.get("scenario_details")
        if isinstance(found, dict):
            return found
    return {}


def _metric(cell: CellReport, name: str) -> float | None:
    summary = cell.summaries.get(name)
    return summary.median if summary is not None else None


def _by_implementation(report: Report) -> dict[tuple[str, str], CellReport]:
    """(workload, framework) -> one devex cell: code size does not depend on the mode."""
    found: dict[tuple[str, str], CellReport] = {}
    for cell in devex_cells(report):
        spec = cell.stored.spec
        found.setdefault((spec.workload, spec.framework), cell)
    return found


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def code_rows(report: Report) -> list[list[str]]:
    rows = []
    for (workload, framework), cell in sorted(_by_implementation(report).items()):
        code = _details(cell).get("code", {})
        beyond = [*(f"class {name}" for name in code.get("helper_classes", [])),
                  *(f"{name}()" for name in code.get("extra_methods", []))]
        for metric, what in (("code_padding_calls", "padding"), ("code_layout_calls",
                                                                 "layout conversion")):
            count = _metric(cell, metric)
            if count:
                beyond.append(f"{count:.0f} {what}")
        rows.append([workload, framework,
                     *(_count(_metric(cell, name)) for name in (
                         "code_lines", "code_logical_lines", "code_tokens", "code_api_calls",
                         "code_api_names")),
                     ", ".join(beyond) or "–"])
    return rows


@dataclass(frozen=True)
class CodeTotal:
    framework: str
    workloads: tuple[str, ...]
    sums: dict[str, float]
    api_names: frozenset[str]


def code_totals(report: Report, frameworks: tuple[str, ...] | None = None) -> list[CodeTotal]:
    """Per framework, sums over the workloads every one of `frameworks` implements (all the
    measured ones when None), so totals compare the same models."""
    cells = _by_implementation(report)
    measured = tuple(sorted({framework for _, framework in cells}))
    chosen = frameworks or measured
    workloads = sorted({w for w, _ in cells
                        if all((w, framework) in cells for framework in chosen)})
    totals = []
    for framework in chosen:
        mine = [cells[(w, framework)] for w in workloads]
        sums = {name: sum(_metric(c, name) or 0.0 for c in mine) for name in (
            "code_lines", "code_logical_lines", "code_tokens", "code_api_calls")}
        names = frozenset(name for c in mine for name in _details(c).get("code", {}).get(
            "api_names", []))
        totals.append(CodeTotal(framework, tuple(workloads), sums, names))
    return [total for total in totals if total.workloads]


def code_total_rows(report: Report) -> list[list[str]]:
    return [[t.framework, str(len(t.workloads)),
             *(f"{t.sums[name]:.0f}" for name in ("code_lines", "code_logical_lines",
                                                   "code_tokens", "code_api_calls")),
             str(len(t.api_names))] for t in code_totals(report)]


def _probe_text(probe: dict[str, Any] | None) -> tuple[str, str, str]:
    if probe is None:
        return "no (the implementation names no forward)", "–", "–"
    stops = f"{probe['stops']} of {probe['steps']}"
    if not probe["stops"]:
        seen = "never stopped"
    else:
        seen = f"{probe['seen']} {probe['value_type']}"
        if 0 < probe["concrete_stops"] < probe["stops"]:
            seen += f" ({probe['concrete_stops']} of {probe['stops']} stops concrete)"
    return str(probe.get("forward", "yes")), stops, seen


def probe_rows(report: Report) -> list[list[str]]:
    """One row per framework/mode (the mlp cell when there is one, else the first workload)."""
    chosen: dict[str, CellReport] = {}
    everywhere: dict[str, list[bool]] = {}
    for cell in devex_cells(report):
        if cell.label not in chosen or cell.stored.spec.workload == "mlp":
            chosen[cell.label] = cell
        found = _stops_everywhere(cell)
        if found is not None:
            everywhere.setdefault(cell.label, []).append(found)
    rows = []
    for label, cell in sorted(chosen.items()):
        forward, stops, seen = _probe_text(_details(cell).get("debugger"))
        counts = everywhere.get(label, [])
        rows.append([f"{label} ({cell.stored.spec.workload})", forward, stops, seen,
                     f"{sum(counts)} of {len(counts)} workloads" if counts else "–"])
    return rows


def _outcome(record: dict[str, Any]) -> str:
    if not record.get("plantable"):
        return "cannot be written here"
    if record.get("raised"):
        return f"{record['error_type']} at {record['stage']}"
    if record.get("cannot_be_made"):
        return (f"cannot be made: the framework infers the width, so a valid model of "
                f"{record.get('trainable_parameters'):,} parameters trained")
    changed = record.get("trainable_parameters") != record.get("expected_parameters")
    what = (f"{record.get('trainable_parameters'):,} parameters instead of "
            f"{record.get('expected_parameters'):,}" if changed else "same parameter count")
    loss = record.get("loss")
    shown = f"{loss:.4g}" if isinstance(loss, float | int) else str(loss)
    return f"silent: trained ({what}; loss {shown})"


def mistake_rows(report: Report) -> list[list[str]]:
    rows = []
    for cell in devex_cells(report):
        for record in _details(cell).get("mistakes", []):
            raised = bool(record.get("raised"))
            rows.append([f"{record['mistake']} ({cell.stored.spec.workload})", cell.label,
                         _outcome(record),
                         str(record.get("innermost_user_frame") or "–") if raised else "–",
                         _yes(record.get("at_mistake")) if raised else "–",
                         _yes(record.get("names_mistake_line")) if raised else "–",
                         *(str(record.get(key, "–")) if raised else "–" for key in (
                             "internal_frames_below", "traceback_lines", "message_chars"))])
    return sorted(rows, key=lambda row: (row[0], row[1]))


def _yes(value: Any) -> str:
    return "yes" if value else "no"


# -- judging the seeds' claims -----------------------------------------------------------------


@dataclass(frozen=True)
class Judgement:
    status: str  # "holds", "does not hold", "no clear difference", or "not measured"
    summary: str


NOT_MEASURED = "not measured"


def _side_cells(report: Report, side: str) -> list[CellReport]:
    """`side` is a framework (its default mode) or a framework/mode label."""
    found = []
    for cell in devex_cells(report):
        spec = cell.stored.spec
        if ("/" in side and cell.label == side) or (
                "/" not in side and spec.framework == side and cell.in_default_mode):
            found.append(cell)
    return found


def _stops_everywhere(cell: CellReport) -> bool | None:
    probe = _details(cell).get("debugger")
    if probe is None:
        return None
    return bool(probe["stops"] == probe["steps"] and probe["concrete_stops"] == probe["stops"])


def judge_debugger_reach(report: Report, favours: str, over: str) -> Judgement:
    """Holds when a breakpoint in the forward pass stops at every step and sees numbers on
    `favours`' side and not on `over`'s, on every workload both sides measured."""
    results: dict[str, list[bool]] = {}
    for side in (favours, over):
        results[side] = [found for cell in _side_cells(report, side)
                         if (found := _stops_everywhere(cell)) is not None]
    if not results[favours] or not results[over]:
        return Judgement(NOT_MEASURED, f"needs devex cells of {favours} and {over}")
    a, b = all(results[favours]), all(results[over])
    describe = {True: "stops at every step and shows concrete values",
                False: "does not stop at every step with concrete values"}
    summary = f"{favours}: {describe[a]}; {over}: {describe[b]}"
    if a == b:
        return Judgement("no clear difference", summary)
    return Judgement("holds" if a else "does not hold", summary)


def _rank(record: dict[str, Any]) -> tuple[int, int, int]:
    """Higher is easier to debug: a mistake the framework makes impossible beats any error;
    raised beats silent; pointing at or naming the mistake's line beats not; then fewer
    printed traceback lines."""
    if record.get("cannot_be_made"):
        return (2, 0, 0)
    if not record.get("raised"):
        return (0, 0, 0)
    points = int(bool(record.get("at_mistake"))) + int(bool(record.get("names_mistake_line")))
    return (1, points, -int(record.get("traceback_lines", 0)))


def judge_error_locality(report: Report, favours: str, over: str) -> Judgement:
    """Mistake by mistake (same workload, each side's cells), which side's report is easier
    to act on (`_rank`); holds when `favours` wins more mistakes than it loses."""
    records: dict[str, dict[tuple[str, str], dict[str, Any]]] = {favours: {}, over: {}}
    for side in records:
        for cell in _side_cells(report, side):
            for record in _details(cell).get("mistakes", []):
                if record.get("plantable"):
                    records[side][(cell.stored.spec.workload, record["mistake"])] = record
    common = sorted(set(records[favours]) & set(records[over]))
    if not common:
        return Judgement(NOT_MEASURED, f"needs planted mistakes in {favours} and {over}")
    wins, losses, parts = 0, 0, []
    for key in common:
        a, b = _rank(records[favours][key]), _rank(records[over][key])
        wins, losses = wins + (a > b), losses + (a < b)
        better = favours if a > b else over if b > a else "neither"
        parts.append(f"{key[1]} ({key[0]}): {better}")
    summary = (f"{favours} easier on {wins}, {over} on {losses} of {len(common)} planted "
               f"mistakes ({'; '.join(parts)})")
    if wins == losses:
        return Judgement("no clear difference", summary)
    return Judgement("holds" if wins > losses else "does not hold", summary)


def _compare_sizes(report: Report, favours: str, over: str, what: str,
                   measure: Callable[[CodeTotal], float]) -> Judgement:
    frameworks = tuple(side.split("/")[0] for side in (favours, over))
    totals = {t.framework: t for t in code_totals(report, frameworks)}
    if len(totals) < 2:
        return Judgement(NOT_MEASURED, f"needs devex cells of {favours} and {over} on the "
                                       "same workloads")
    a, b = measure(totals[frameworks[0]]), measure(totals[frameworks[1]])
    workloads = totals[frameworks[0]].workloads
    summary = (f"{what} over {len(workloads)} workloads ({', '.join(workloads)}): "
               f"{frameworks[0]} {a:.0f}, {frameworks[1]} {b:.0f}")
    if abs(a - b) <= SAME_SIZE * max(a, b):
        return Judgement("no clear difference", summary + f" (within {SAME_SIZE:.0%})")
    return Judgement("holds" if a < b else "does not hold", summary)


def judge_concise(report: Report, favours: str, over: str) -> Judgement:
    """Holds when `favours`' implementation files need fewer code tokens in total."""
    return _compare_sizes(report, favours, over, "code tokens",
                          lambda total: total.sums["code_tokens"])


def judge_vocabulary(report: Report, favours: str, over: str) -> Judgement:
    """Holds when `favours`' implementations use fewer distinct framework API names: less
    to learn for the same models."""
    return _compare_sizes(report, favours, over, "distinct framework API names",
                          lambda total: float(len(total.api_names)))


CRITERIA: dict[str, Callable[[Report, str, str], Judgement]] = {
    "debugger_reach": judge_debugger_reach,
    "error_locality": judge_error_locality,
    "concise": judge_concise,
    "vocabulary": judge_vocabulary,
}


def tables(report: Report) -> list[tuple[str, tuple[str, ...], list[list[str]]]]:
    """(title, header, rows) of every devex table this run has rows for."""
    found = [
        ("Code size per implementation file (shared base classes not counted)", CODE_HEADER,
         code_rows(report)),
        ("Code size, totals over the workloads every framework implements", CODE_TOTAL_HEADER,
         code_total_rows(report)),
        ("Debugger reach: a sys.settrace probe in the model's forward, 3 training steps",
         PROBE_HEADER, probe_rows(report)),
        ("Planted mistakes: one training step from a scratch copy", MISTAKE_HEADER,
         mistake_rows(report)),
    ]
    return [(title, header, rows) for title, header, rows in found if rows]
