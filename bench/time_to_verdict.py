"""How fast does the adaptive rule decide, and does it agree with a long fixed run?

One long fixed run of every workload (--long-processes worker processes per framework,
--long-windows windows each) gives the reference verdicts, and prints, per pair, the pooled,
the unpaired hierarchical and the paired interval of its ratio. Then --trials adaptive runs
(`--until-decided`, the default suite's rule), each of every workload at once as `make run`
measures them (each pair judged on its own rounds), record per pair the seconds its
worker processes took until it was decided, the rounds and the decision. Agreement: both
call the same framework faster, or neither calls a difference.

    .venv/bin/python bench/time_to_verdict.py [--workloads mlp,cnn,resnet50] [--trials 5]
        [--size cpu] [--long-processes 6] [--long-windows 10] [--threads N]

Nothing else may run on the machine meanwhile (FACTS.md: it is noisy); at cpu size the long
run takes ~6 minutes and each trial 1-4.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from dlarena.analysis import stats
from dlarena.cell import ThreadSettings
from dlarena.engine.plan import PlannedCell, Request
from dlarena.engine.runner import run
from dlarena.executors.base import CellOutcome
from dlarena.executors.local import LocalExecutor
from dlarena.report.build import build_report
from dlarena.store import Store


class Timer:
    """Adds up the wall time of every worker process, per workload; prints the decisions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def planned(self, *args: Any) -> None: ...
    def started(self, index: int, total: int, planned: PlannedCell) -> None:
        print(f"    [{index}/{total}] {planned.cell.label} #{planned.process}", file=sys.stderr)
    def progress(self, *args: Any) -> None: ...
    def finished(self, index: int, total: int, outcome: CellOutcome) -> None:
        self.seconds[outcome.cell.workload] += outcome.wall_seconds
    def checking(self, *args: Any) -> None: ...
    def checked(self, *args: Any, **kwargs: Any) -> None: ...
    def note(self, text: str) -> None:
        print(f"    {text}", file=sys.stderr)


def _called(store: Store, run_id: int) -> dict[str, tuple[str, str, int]]:
    """Per workload: (who is faster or 'none', the verdict's words, rounds measured)."""
    called = {}
    for group in build_report(store, run_id).groups:
        [verdict] = group.verdicts
        rounds = max(cell.stored.processes for cell in group.cells)
        called[group.workload] = ((verdict.better or "none") if verdict.significant else "none",
                                  verdict.text, rounds)
    return called


def _intervals(store: Store, run_id: int) -> None:
    """Each pair's ratio with its pooled, unpaired hierarchical and paired 95% intervals."""
    report = build_report(store, run_id)
    for group in report.groups:
        first, second = (cell.stored.by_round("train_throughput") for cell in group.cells)
        pooled = stats.ratio_of_medians_ci(stats.pooled(first), stats.pooled(second))
        unpaired = stats.hierarchical_ratio_ci(first, second)
        paired = stats.paired_ratio_ci(first, second)
        names = " / ".join(cell.stored.spec.framework for cell in group.cells)
        print(f"  {group.workload} {names}: ratio {stats.ratio(first, second):.3f}; 95% "
              f"pooled {_span(pooled)}, hierarchical {_span(unpaired)}, paired {_span(paired)}")


def _span(interval: tuple[float, float] | None) -> str:
    if interval is None:
        return "none"
    mark = " *" if stats.is_significant(interval) else ""
    return f"{interval[0]:.3f}-{interval[1]:.3f}{mark}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="mlp,cnn,resnet50")
    parser.add_argument("--frameworks", default="torch,tensorflow")
    parser.add_argument("--size", default="cpu")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--long-processes", type=int, default=6)
    parser.add_argument("--long-windows", type=int, default=10)
    parser.add_argument("--threads", type=int, help="intra- and inter-op (default: all CPUs)")
    args = parser.parse_args()
    threads = ThreadSettings(args.threads, args.threads) if args.threads else None
    workloads = args.workloads.split(",")
    base = {"suite": "default", "size": args.size, "workloads": workloads,
            "frameworks": args.frameworks.split(","), "scenarios": ["train"],
            "threads": threads, "check_parity": False}
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "bench.db")
        long = Timer()
        long_run = run(Request(**base, until_decided=False, processes=args.long_processes,
                               windows=args.long_windows), store=store,
                       executor=LocalExecutor(), interpreters={}, observer=long, fresh=True)
        reference = _called(store, long_run.run_id)
        for workload in workloads:
            print(f"{workload}: fixed run, {long.seconds[workload]:.0f} s of workers: "
                  f"{reference[workload][1]}")
        _intervals(store, long_run.run_id)
        seconds: dict[str, list[float]] = defaultdict(list)
        rounds: dict[str, list[int]] = defaultdict(list)
        agree: dict[str, int] = defaultdict(int)
        for trial in range(1, args.trials + 1):
            timer = Timer()
            trial_run = run(Request(**base, until_decided=True), store=store,
                            executor=LocalExecutor(), interpreters={}, observer=timer,
                            fresh=True)
            for workload, (called, words, measured) in _called(store, trial_run.run_id).items():
                agree[workload] += called == reference[workload][0]
                seconds[workload].append(timer.seconds[workload])
                rounds[workload].append(measured)
                print(f"  trial {trial} {workload}: {measured} rounds, "
                      f"{timer.seconds[workload]:.0f} s: {words}")
        store.close()
    for workload in workloads:
        print(f"{workload}: time to verdict median {statistics.median(seconds[workload]):.0f} s "
              f"(range {min(seconds[workload]):.0f}-{max(seconds[workload]):.0f}; rounds "
              f"{sorted(rounds[workload])}; fixed run {long.seconds[workload]:.0f} s); agrees "
              f"with the fixed run in {agree[workload]} of {args.trials} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
