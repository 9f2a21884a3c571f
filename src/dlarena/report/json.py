"""The run as JSON: one object per cell, for machines. Schema documented in the README."""

from __future__ import annotations

import json
from typing import Any

from dlarena.measure.stats import Summary
from dlarena.report.facts import unit
from dlarena.report.model import CellReport, Report

JSON_SCHEMA_VERSION = 1


def _metric(name: str, summary: Summary, workload: str) -> dict[str, Any]:
    return {
        "median": summary.median,
        "unit": unit(name, workload),
        "n": summary.n,
        "ci_low": summary.ci[0] if summary.ci else None,
        "ci_high": summary.ci[1] if summary.ci else None,
        "cv": summary.cv,
        "mad": summary.mad,
        "min": summary.minimum,
        "max": summary.maximum,
    }


def _cell(cell: CellReport) -> dict[str, Any]:
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
        "threads": {"intra_op": spec.threads.intra_op, "inter_op": spec.threads.inter_op},
        "processes": cell.stored.processes,
        "status": "ok" if cell.stored.ok else "error",
        "error": cell.stored.error,
        "flags": list(cell.flags),
        "between_process_cv": cell.between_process_cv,
        "metrics": {name: _metric(name, s, spec.workload)
                    for name, s in sorted(cell.summaries.items())},
        "achieved_gflops": cell.achieved_gflops,
        "manifest": next((d["manifest"] for d in cell.stored.details if "manifest" in d), None),
    }


def render(report: Report) -> str:
    document = {
        "schema_version": JSON_SCHEMA_VERSION,
        "run": {
            "id": report.run.id,
            "created_utc": report.run.created_utc,
            "command": report.run.command,
            "environment": report.run.environment,
        },
        "cells": [_cell(cell) for cell in report.cells],
        "verdicts": [
            {
                "workload": group.workload,
                "scenario": group.scenario,
                "metric": verdict.metric,
                "first": verdict.first,
                "second": verdict.second,
                "ratio": verdict.ratio,
                "ci_low": verdict.interval[0] if verdict.interval else None,
                "ci_high": verdict.interval[1] if verdict.interval else None,
                "significant": verdict.significant,
                "text": verdict.text,
                "same_model_checked": verdict.checked,
                "flagged_cells": group.flagged(verdict),
            }
            for group in report.groups
            for verdict in group.verdicts
        ],
        "parity": [result.to_dict() | {"passed": result.passed, "reason": result.reason}
                   for result in report.parity],
        "manifest": report.manifest(),
    }
    return json.dumps(document, indent=2) + "\n"
