"""The run as flat records, one per (cell, metric): for CSV and for pandas."""

from __future__ import annotations

import csv
import io
from typing import Any

from dlarena.report.facts import unit
from dlarena.report.model import Report

COLUMNS = (
    "run_id", "workload", "framework", "framework_version", "mode", "scenario", "size",
    "device", "batch_size", "precision", "intra_op_threads", "inter_op_threads", "processes",
    "status", "error", "flags", "metric", "unit", "median", "ci_low", "ci_high", "cv", "mad",
    "n", "min", "max",
)


def records(report: Report) -> list[dict[str, Any]]:
    rows = []
    for cell in report.cells:
        spec = cell.stored.spec
        common = {
            "run_id": report.run.id, "workload": spec.workload, "framework": spec.framework,
            "framework_version": cell.stored.framework_version, "mode": spec.mode,
            "scenario": spec.scenario, "size": spec.size, "device": spec.device,
            "batch_size": spec.batch_size, "precision": spec.precision,
            "intra_op_threads": spec.threads.intra_op, "inter_op_threads": spec.threads.inter_op,
            "processes": cell.stored.processes, "status": "ok" if cell.stored.ok else "error",
            "error": cell.stored.error, "flags": "; ".join(cell.flags),
        }
        if not cell.summaries:
            rows.append({**common, **dict.fromkeys(COLUMNS[-10:])})
        for metric, summary in sorted(cell.summaries.items()):
            rows.append({
                **common, "metric": metric, "unit": unit(metric, spec.workload),
                "median": summary.median,
                "ci_low": summary.ci[0] if summary.ci else None,
                "ci_high": summary.ci[1] if summary.ci else None,
                "cv": summary.cv, "mad": summary.mad, "n": summary.n,
                "min": summary.minimum, "max": summary.maximum,
            })
    return rows


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(report))
    return buffer.getvalue()
