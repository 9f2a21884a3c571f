"""The run as JSON, for machines: every figure the human formats show. Schema in docs/store.md."""

from __future__ import annotations

import dataclasses
from typing import Any

from dlarena import jsonsafe
from dlarena.analysis.stats import Summary
from dlarena.analysis.verdict import Verdict
from dlarena.report import phases, scaling
from dlarena.report.analyses import break_evens, sweeps
from dlarena.report.claims import judge_all
from dlarena.report.curves import CURVES
from dlarena.report.facts import VERDICT_RULES_VERSION
from dlarena.report.model import CellReport, Group, Report
from dlarena.report.paper import paper_document

# 2: percentiles, ratios to the first cell, the stored definitions, and the analyses (sweeps,
# break-even, the published table, claims) that only the human formats had in version 1.
JSON_SCHEMA_VERSION = 2


def _metric(cell: CellReport, name: str, summary: Summary) -> dict[str, Any]:
    return {
        "median": summary.median,
        "unit": cell.definitions.unit(name, cell.stored.spec.workload),
        "n": summary.n,
        "ci_low": summary.ci[0] if summary.ci else None,
        "ci_high": summary.ci[1] if summary.ci else None,
        "cv": summary.cv,
        "mad": summary.mad,
        "min": summary.minimum,
        "max": summary.maximum,
        "p90": cell.percentile(name, 90),
        "p99": cell.percentile(name, 99),
    }


def _cell(group: Group, cell: CellReport) -> dict[str, Any]:
    spec = cell.stored.spec
    return {
        "workload": spec.workload,
        "framework": spec.framework,
        "framework_version": cell.stored.framework_version,
        "mode": spec.mode,
        "scenario": spec.scenario,
        "size": spec.size,
        "device": spec.device,
        "device_name": cell.stored.device_name,
        "batch_size": spec.batch_size,
        "precision": spec.precision,
        "seed": spec.seed,
        "options": spec.options,
        "threads": {"intra_op": spec.threads.intra_op, "inter_op": spec.threads.inter_op},
        "processes": cell.stored.processes,
        "status": cell.stored.status,
        "error": cell.stored.error,
        "stderr_tails": [] if cell.stored.ok else [t for t in cell.stored.stderr_tails if t],
        "flags": list(cell.flags),
        "headline": cell.headline,
        "between_process_cv": cell.between_process_cv,
        "ratio_to_first": group.ratio_to_first(cell),
        "metrics": {name: _metric(cell, name, s) for name, s in sorted(cell.summaries.items())},
        "curves": {name: cell.stored.samples_by_process[name] for name in CURVES
                   if spec.scenario == "convergence" and name in cell.stored.samples_by_process},
        "achieved_gflops": cell.achieved_gflops,
        "manifest": next((d["manifest"] for d in cell.stored.details if "manifest" in d), None),
    }


def _verdict(verdict: Verdict) -> dict[str, Any]:
    return {
        "metric": verdict.metric,
        "first": verdict.first,
        "second": verdict.second,
        "ratio": verdict.ratio,
        "ci_low": verdict.interval[0] if verdict.interval else None,
        "ci_high": verdict.interval[1] if verdict.interval else None,
        "significant": verdict.significant,
        "comparable": verdict.comparable,
        "better": verdict.better,
        "decision": verdict.decision,
        "rounds": verdict.rounds,
        "rounds_needed": verdict.needed,
        "same_model_checked": verdict.checked,
        "between_processes": verdict.between_processes,
        "text": verdict.text,
    }


def _analyses(report: Report) -> dict[str, Any]:
    return {
        "sweeps": [
            {"workload": sweep.workload, "scenario": sweep.scenario, "metric": sweep.metric,
             "unit": report.definitions.unit(sweep.metric, sweep.workload),
             "batch_sizes": sorted({size for points in sweep.series.values()
                                    for size in points}),
             "crossovers": [{"before": c.before, "after": c.after, "below": c.below,
                             "above": c.above} for c in sweep.crossovers]}
            for sweep in sweeps(report)
        ],
        "break_evens": [
            {"workload": item.workload, "candidate": item.candidate, "baseline": item.baseline,
             "extra_start_seconds": item.extra_start_seconds, "batch_size": item.batch_size,
             "baseline_step_seconds": item.baseline_step_seconds,
             "candidate_step_seconds": item.candidate_step_seconds, "steps": item.steps,
             "text": item.text}
            for item in break_evens(report)
        ],
        "scaling": [dataclasses.asdict(found) for found in scaling.scalings(report)],
        "claims": [
            {"id": result.claim.id, "status": result.status, "summary": result.summary,
             "evidence": [{"workload": item.workload, "scenario": item.scenario,
                           **_verdict(item.verdict)} for item in result.evidence]}
            for result in judge_all(report)
        ],
    }


def render(report: Report, *, reference: str | None = None) -> str:
    """`reference`: the framework the published table's ratios are against (None: its own)."""
    environment = {key: value for key, value in report.run.environment.items()
                   if key != "definitions"}  # under "definitions" below, stored or not
    document = {
        "schema_version": JSON_SCHEMA_VERSION,
        "run": {
            "id": report.run.id,
            "created_utc": report.run.created_utc,
            "command": report.run.command,
            "environment": environment,
        },
        "definitions": {"stored_with_run": report.definitions_stored,
                        **report.definitions.to_json()},
        "verdict_rules": VERDICT_RULES_VERSION,
        "interval": report.interval_label,
        "aa_control": dataclasses.asdict(report.control) if report.control else None,
        "phases": phases.document(report),
        "notes": report.definitions_notes,
        "cells": [_cell(group, cell) for group in report.groups for cell in group.cells],
        "verdicts": [
            {"workload": group.workload, "scenario": group.scenario, "size": group.size,
             "batch_size": group.batch_size, "device": group.device, **_verdict(verdict),
             "flagged_cells": group.flagged(verdict)}
            for group in report.groups
            for verdict in group.verdicts
        ],
        "parity": [result.to_dict() | {"passed": result.passed, "reason": result.reason}
                   for result in report.parity],
        "unchecked_pairs": [{"workload": workload, "first": first, "second": second}
                            for workload, first, second in report.unchecked_pairs],
        "manifest": report.manifest(),
        "paper": paper_document(report, reference=reference),
        **_analyses(report),
    }
    return jsonsafe.dumps(document, indent=2) + "\n"
