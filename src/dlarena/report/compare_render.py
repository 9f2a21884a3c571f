"""`dlarena compare` as a terminal table or a JSON document."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from dlarena import jsonsafe
from dlarena.report import formatting as fmt
from dlarena.report import machines, sanitise
from dlarena.report.compare import RunComparison


def json_text(result: RunComparison) -> str:
    return jsonsafe.dumps({
        "first": result.first.id, "second": result.second.id,
        "microarchitectures": [run.environment.get("cpu_microarchitecture")
                               for run in (result.first, result.second)],
        "hardware": [machines.hardware(run) for run in (result.first, result.second)],
        "same_machine": result.first.machine_key == result.second.machine_key,
        "environment_differences": result.environment_differences,
        "only_first": result.only_first, "only_second": result.only_second,
        "changes": [{"cell": c.label, "metric": c.metric, "before": c.before,
                     "after": c.after, "ratio": c.verdict.ratio,
                     "ci_low": c.verdict.interval[0] if c.verdict.interval else None,
                     "ci_high": c.verdict.interval[1] if c.verdict.interval else None,
                     "significant": c.verdict.significant, "text": c.verdict.text}
                    for c in result.changes],
    }, indent=2)


def terminal(result: RunComparison, console: Any) -> None:
    for run in (result.first, result.second):
        console.print(f"run {run.id}: {sanitise.terminal(machines.hardware(run))}", style="dim")
    if result.first.machine_key != result.second.machine_key:
        console.print("[yellow bold]these runs come from two machines: each ratio below divides "
                      "one machine's figure by another's, so it measures the hardware as much "
                      "as the code; `report --machines` shows ratios within each machine"
                      "[/yellow bold]")
    if result.environment_differences:
        console.print("[yellow bold]warning: the environments differ; a change may be the "
                      "machine's, not the code's:[/yellow bold]")
        for line in result.environment_differences:
            console.print(f"  [yellow]{sanitise.terminal(line)}[/yellow]")
    table = Table(title=f"run {result.first.id} → run {result.second.id}", title_justify="left")
    for name in ("cell", "metric", f"run {result.first.id}", f"run {result.second.id}",
                 "ratio", "95% CI", "verdict"):
        table.add_column(name, overflow="fold")
    for change in result.changes:
        verdict = change.verdict
        table.add_row(sanitise.terminal(change.label), change.metric, fmt.number(change.before),
                      fmt.number(change.after), f"{verdict.ratio:.3f}",
                      fmt.interval(verdict.interval) if verdict.interval else "–",
                      sanitise.terminal(verdict.text),
                      style="bold" if verdict.significant else None)
    console.print(table)
    for name, labels in ((f"only in run {result.first.id}", result.only_first),
                         (f"only in run {result.second.id}", result.only_second)):
        if labels:
            console.print(f"{name}: {sanitise.terminal(', '.join(labels))}")
    console.print(f"{len(result.significant)} significant change(s) of {len(result.changes)}")
