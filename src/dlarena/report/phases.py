"""Where a run's wall time went: the coordinator's own phases (matrix peaks, same-model
checks) and, summed over the worker processes, each process's phases (start, import, build,
first step, calibration, warm-up, timed windows), so the next saving is visible.

Reads what the run stored: the run's phases (`Store.run_phases`) and each process's
`phases` in its cell's details (worker.phases, with the executor's start and exit). The
install (`make run`'s first step) happens before dlarena starts and is not among them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.analysis import stats
from dlarena.report.model import Report

# A worker process's phases in the order they happen, and what each holds.
PROCESS_PHASES: tuple[tuple[str, str], ...] = (
    ("fork_server", "a fork server's start and framework import, once per framework and round"),
    ("start", "interpreter start and dlarena's imports (a forked worker: the fork)"),
    ("import", "framework import and set-up"),
    ("build", "model built, canonical weights set"),
    ("prepare", "batches made on the device, model prepared"),
    ("first_step", "first step (tracing, compiling)"),
    ("calibrate", "windows that only found the window size"),
    ("warmup", "warm-up windows until the step time settled"),
    ("measure", "timed windows"),
    ("scenario", "a scenario without timed windows"),
    ("exit", "from the result to the process's end"),
)
# The coordinator's phases (runner.execute), as the run stored them.
RUN_PHASES: tuple[tuple[str, str], ...] = (
    ("peaks", "matrix-product peaks of each framework (a new run only)"),
    ("checks", "same-model checks (cached ones cost nothing)"),
)

HEADER = ("phase", "seconds", "share of the run", "what")
FRAMEWORK_HEADER = ("framework", "processes", "wall", *(name for name, _ in PROCESS_PHASES
                                                          if name not in ("scenario",)))


@dataclass(frozen=True)
class Breakdown:
    """Seconds per phase of one run, over every invocation of it."""

    total: float  # the run's invocations end to end; the processes' walls if it has none
    run: dict[str, float]  # RUN_PHASES that were recorded
    processes: int
    process_wall: float
    process: dict[str, float]  # PROCESS_PHASES, summed over the processes that recorded them
    # Wall time of the processes that reported no phases: an unsupported or failed cell's
    # worker ends before it reports them.
    unphased: float
    unattributed: float  # the other processes' wall time no phase accounts for
    coordinator: float  # the run's time outside the processes and its own phases

    def rows(self) -> list[tuple[str, float, str]]:
        """(phase, seconds, what) in the order they happen; empty phases left out."""
        found = [(name, self.run[name], what) for name, what in RUN_PHASES if name in self.run]
        found.append((f"worker processes ({self.processes})", self.process_wall,
                      "each process's wall time, as the coordinator saw it"))
        found += [(f"· {name}", self.process[name], what) for name, what in PROCESS_PHASES
                  if self.process.get(name)]
        if self.unphased > 0:
            found.append(("· no phases reported", self.unphased,
                          "processes of unsupported or failed cells, which end before "
                          "reporting their phases"))
        if self.unattributed > 0:
            found.append(("· other", self.unattributed,
                          "in no phase above (the result's transfer)"))
        if self.coordinator > 0:
            found.append(("coordinator", self.coordinator,
                          "between processes: storing, looking at pairs, starting processes"))
        return found


def breakdown(report: Report) -> Breakdown | None:
    """The run's breakdown; None when nothing of it was stored (a run without processes)."""
    walls = [wall for cell in report.cells for wall in cell.stored.wall_seconds]
    if not walls:
        return None
    summed: dict[str, float] = {}
    unphased = 0.0
    for cell in report.cells:
        for details, wall in zip(cell.stored.details, cell.stored.wall_seconds, strict=False):
            phases = details.get("phases")
            if not isinstance(phases, dict):
                unphased += wall
                continue
            for name, seconds in phases.items():
                summed[name] = summed.get(name, 0.0) + float(seconds)
    run = {name: seconds for name, seconds in report.phases.items() if name != "run"}
    process_wall = sum(walls)
    known = sum(summed.values())
    # An invocation that was interrupted stored no `run`: never less than the parts.
    total = max(report.phases.get("run", 0.0), process_wall + sum(run.values()))
    return Breakdown(
        total=total, run=run, processes=len(walls), process_wall=process_wall,
        process=summed, unphased=unphased, unattributed=process_wall - unphased - known,
        coordinator=total - process_wall - sum(run.values()))


def rows(report: Report) -> list[list[str]]:
    found = breakdown(report)
    if found is None:
        return []
    return [[name, f"{seconds:.1f} s", f"{seconds / found.total:.0%}" if found.total else "–",
             what] for name, seconds, what in found.rows()] + [
        ["run", f"{found.total:.1f} s", "100%", "the run's invocations, end to end"]]


def typical(report: Report) -> dict[str, dict[str, float]]:
    """framework -> a typical worker process of it: the processes' count, and the median
    wall and phase (seconds) of those that recorded phases."""
    by_framework: dict[str, list[tuple[float, dict[str, float]]]] = {}
    for cell in report.cells:
        for details, wall in zip(cell.stored.details, cell.stored.wall_seconds, strict=False):
            phases = details.get("phases")
            if isinstance(phases, dict):
                by_framework.setdefault(cell.stored.spec.framework, []).append((wall, phases))
    found = {}
    for framework, processes in by_framework.items():
        medians = {"processes": float(len(processes)),
                   "wall": stats.median([wall for wall, _ in processes])}
        for name in FRAMEWORK_HEADER[3:]:
            values = [phases[name] for _, phases in processes if name in phases]
            if values:
                medians[name] = stats.median(values)
        found[framework] = medians
    return found


def framework_rows(report: Report) -> list[list[str]]:
    return [[framework, f"{medians['processes']:.0f}",
             *(f"{medians[name]:.2f}" if name in medians else "–"
               for name in FRAMEWORK_HEADER[2:])]
            for framework, medians in typical(report).items()]


NOTE = ("Where the run's wall time went, over every invocation of it (the install, before "
        "dlarena starts, is not counted); below, a typical worker process of each framework "
        "(medians over its processes, seconds).")


def document(report: Report) -> dict[str, object] | None:
    """The JSON report's `phases`."""
    found = breakdown(report)
    if found is None:
        return None
    return {"total_seconds": found.total, "run": found.run, "processes": found.processes,
            "process_wall_seconds": found.process_wall, "process": found.process,
            "unphased_seconds": found.unphased, "unattributed_seconds": found.unattributed,
            "coordinator_seconds": found.coordinator, "by_framework": typical(report)}
