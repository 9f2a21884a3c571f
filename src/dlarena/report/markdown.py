"""The comparison as Markdown."""

from __future__ import annotations

import html

from dlarena.measure.stats import CONFIDENCE
from dlarena.report.model import Report
from dlarena.report.table import HEADER, comparison_rows, run_line, verdict_lines


def _cell(text: str) -> str:
    """Text from users and error messages must not become HTML when the Markdown is rendered."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def render(report: Report) -> str:
    lines = ["# dlarena comparison", "", _cell(run_line(report)), "", "## Verdicts", ""]
    verdicts = verdict_lines(report)
    lines += [f"- {_cell(v)}" for v in verdicts] or ["- no pair of measured cells to compare"]
    lines += [
        "",
        f"Ratios of medians with {CONFIDENCE:.0%} percentile-bootstrap confidence intervals;",
        "a difference is significant when its interval excludes 1.",
        "",
        "## Cells",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines += ["| " + " | ".join(_cell(text) for text in row.cells) + " |"
              for row in comparison_rows(report)]
    failed = report.failed
    if failed:
        lines += ["", "## Failed cells", ""]
        lines += [f"- {c.stored.spec.label}: {_cell(c.stored.error or '')}" for c in failed]
    return "\n".join(lines) + "\n"
