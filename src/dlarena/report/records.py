"""The run as flat records, one per (cell, metric): for CSV and for pandas.

The figures of one cell; what compares cells (verdicts, sweeps, break-even, the published
table) is in the JSON report.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from dlarena import jsonsafe
from dlarena.report.model import Report

CELL_COLUMNS = (
    "run_id", "workload", "framework", "framework_version", "mode", "scenario", "size",
    "device", "batch_size", "precision", "intra_op_threads", "inter_op_threads", "processes",
    "status", "error", "flags",
)
METRIC_COLUMNS = (
    "metric", "unit", "median", "ci_low", "ci_high", "cv", "mad", "n", "min", "max", "p90",
    "p99",
    # On the row of the cell's headline metric only:
    "ratio_to_first", "between_process_cv", "achieved_gflops",
)
# Added after the metric columns so that version 1's columns keep their places.
LATER_CELL_COLUMNS = ("seed", "options")
COLUMNS = (*CELL_COLUMNS, *METRIC_COLUMNS, *LATER_CELL_COLUMNS)


def records(report: Report) -> list[dict[str, Any]]:
    rows = []
    for group in report.groups:
        for cell in group.cells:
            spec = cell.stored.spec
            common = {
                "run_id": report.run.id, "workload": spec.workload, "framework": spec.framework,
                "framework_version": cell.stored.framework_version, "mode": spec.mode,
                "scenario": spec.scenario, "size": spec.size, "device": spec.device,
                "batch_size": spec.batch_size, "precision": spec.precision,
                "intra_op_threads": spec.threads.intra_op,
                "inter_op_threads": spec.threads.inter_op,
                "processes": cell.stored.processes,
                "status": cell.stored.status,
                "error": cell.stored.error, "flags": "; ".join(cell.flags),
                "seed": spec.seed, "options": jsonsafe.dumps(spec.options, sort_keys=True),
            }
            if not cell.summaries:
                rows.append({**common, **dict.fromkeys(METRIC_COLUMNS)})
            for metric, summary in sorted(cell.summaries.items()):
                headline = metric == cell.headline
                rows.append({
                    **common, "metric": metric,
                    "unit": report.definitions.unit(metric, spec.workload),
                    "median": summary.median,
                    "ci_low": summary.ci[0] if summary.ci else None,
                    "ci_high": summary.ci[1] if summary.ci else None,
                    "cv": summary.cv, "mad": summary.mad, "n": summary.n,
                    "min": summary.minimum, "max": summary.maximum,
                    "p90": cell.percentile(metric, 90), "p99": cell.percentile(metric, 99),
                    "ratio_to_first": group.ratio_to_first(cell) if headline else None,
                    "between_process_cv": cell.between_process_cv if headline else None,
                    "achieved_gflops": cell.achieved_gflops if headline else None,
                })
    return rows


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records(report))
    return buffer.getvalue()
