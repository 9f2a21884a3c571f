"""Progress of a run on the console: a live line for the cell in flight, a line per cell done."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.status import Status

from dlarena.cell import UNSUPPORTED
from dlarena.engine.plan import PlannedCell
from dlarena.executors.base import CellOutcome
from dlarena.parity.compare import ParityResult
from dlarena.report.facts import unit
from dlarena.report.formatting import number
from dlarena.report.sanitise import terminal

_PHASES = {
    "import": "importing the framework",
    "build": "building the model",
    "first_step": "first step",
    "calibrate": "calibrating the window",
    "warmup": "warming up",
    "measure": "measuring",
}


def _title(planned: PlannedCell) -> str:
    suffix = f" · process {planned.process + 1}" if planned.process else ""
    return f"{planned.cell.label}{suffix}"


class ConsoleObserver:
    def __init__(self, console: Console) -> None:
        self._console = console
        self._status: Status | None = None
        self._prefix = ""

    def planned(self, run_id: int, total: int, skipped: int, resumed: bool) -> None:
        if resumed:
            self._console.print(f"resuming run {run_id}: {skipped} of {total} worker processes "
                                "already stored (--fresh to measure again)")
        else:
            self._console.print(f"run {run_id}: {total} worker processes to measure")

    def started(self, index: int, total: int, planned: PlannedCell) -> None:
        self._prefix = f"[{index}/{total}] {terminal(_title(planned))}"
        if self._console.is_terminal:
            self._status = self._console.status(self._prefix)
            self._status.start()

    def progress(self, planned: PlannedCell, event: dict[str, Any]) -> None:
        if self._status is None:
            return
        phase = _PHASES.get(str(event.get("phase")), str(event.get("phase")))
        total = event.get("total") or 0
        counter = f" {event.get('done')}/{total}" if total > 1 else ""
        self._status.update(f"{self._prefix} — {terminal(phase)}{counter}")

    def finished(self, index: int, total: int, outcome: CellOutcome) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if outcome.status == "ok":
            metric = outcome.payload.get("throughput_metric")
            windows = outcome.payload.get("windows", [])
            items = outcome.payload.get("items_per_step", outcome.cell.batch_size)
            rates = sorted(s * items / t for s, t in windows)
            figure = (f"{number(rates[len(rates) // 2])} {unit(metric, outcome.cell.workload)}"
                      if metric and rates else "")
            self._console.print(f"{self._prefix}  [green]ok[/green] {figure} "
                                f"({outcome.wall_seconds:.1f} s)")
        elif outcome.status == UNSUPPORTED:
            self._console.print(f"{self._prefix}  [yellow]unsupported here[/yellow]: "
                                f"{terminal(outcome.error or '')} ({outcome.wall_seconds:.1f} s)")
        else:
            self._console.print(f"{self._prefix}  [red]failed[/red]: "
                                f"{terminal(outcome.error or '')} ({outcome.wall_seconds:.1f} s)")

    def checking(self, workload: str, variants: Sequence[str]) -> None:
        self._console.print(f"checking that {', '.join(variants)} compute the same "
                            f"{workload} (parity)…")

    def checked(self, results: Sequence[ParityResult], *, cached: bool) -> None:
        source = " (cached: implementations unchanged)" if cached else ""
        for result in results:
            pair = f"{result.workload}: {result.first_label} vs {result.second_label}"
            if result.passed:
                self._console.print(f"  parity {terminal(pair)} [green]passed[/green]{source}")
            else:
                self._console.print(f"  parity {terminal(pair)} [red]FAILED[/red]{source}: "
                                    f"{terminal(result.reason or '')}")

    def note(self, text: str) -> None:
        self._console.print(terminal(text), style="dim")
