"""How fast does the adaptive rule decide, and does it agree with a long fixed run?

For each workload: one long fixed run (--long-processes worker processes per framework,
--long-windows windows each) gives the reference verdict; then --trials adaptive runs
(`--until-decided`, the default suite's rule) each record the seconds its worker processes
took until the pair was decided, and the decision. Agreement: both call the same framework
faster, or neither calls a difference. Prints one line per trial and a summary per workload.

    .venv/bin/python bench/time_to_verdict.py [--workloads mlp,cnn,resnet50] [--trials 5]
        [--size cpu] [--long-processes 6] [--long-windows 10] [--threads N]

Nothing else may run on the machine meanwhile (FACTS.md: it is noisy); it takes minutes per
trial at cpu size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from dlarena.cell import ThreadSettings
from dlarena.executors.base import CellOutcome
from dlarena.executors.local import LocalExecutor
from dlarena.plan import PlannedCell, Request
from dlarena.report.build import build_report
from dlarena.runner import run
from dlarena.store import Store


class Timer:
    """Adds up the wall time of every worker process; prints the decisions."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def planned(self, *args: Any) -> None: ...
    def started(self, index: int, total: int, planned: PlannedCell) -> None:
        print(f"    [{index}/{total}] {planned.cell.label} #{planned.process}", file=sys.stderr)
    def progress(self, *args: Any) -> None: ...
    def finished(self, index: int, total: int, outcome: CellOutcome) -> None:
        self.seconds += outcome.wall_seconds
    def checking(self, *args: Any) -> None: ...
    def checked(self, *args: Any, **kwargs: Any) -> None: ...
    def note(self, text: str) -> None:
        print(f"    {text}", file=sys.stderr)


def _called(store: Store, run_id: int) -> tuple[str, str]:
    """(who is faster or 'none', the verdict's words) of the run's one pair."""
    [group] = build_report(store, run_id).groups
    [verdict] = group.verdicts
    return (verdict.better or "none") if verdict.significant else "none", verdict.text


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

    for workload in args.workloads.split(","):
        base = {"suite": "default", "size": args.size, "workloads": [workload],
                "frameworks": args.frameworks.split(","), "scenarios": ["train"],
                "threads": threads, "check_parity": False}
        with tempfile.TemporaryDirectory() as folder:
            store = Store.open(Path(folder) / "bench.db")
            long = Timer()
            long_run = run(Request(**base, until_decided=False, processes=args.long_processes,
                                   windows=args.long_windows), store=store,
                           executor=LocalExecutor(), interpreters={}, observer=long, fresh=True)
            reference, words = _called(store, long_run.run_id)
            print(f"{workload}: fixed run, {long.seconds:.0f} s of workers: {words}")
            agree, seconds = 0, []
            for trial in range(1, args.trials + 1):
                timer = Timer()
                trial_run = run(Request(**base, until_decided=True), store=store,
                                executor=LocalExecutor(), interpreters={}, observer=timer,
                                fresh=True)
                called, words = _called(store, trial_run.run_id)
                agree += called == reference
                seconds.append(timer.seconds)
                print(f"  trial {trial}: {timer.seconds:.0f} s: {words}")
            store.close()
        print(f"{workload}: time to verdict median {sorted(seconds)[len(seconds) // 2]:.0f} s "
              f"(fixed {long.seconds:.0f} s); agrees with the fixed run in {agree} of "
              f"{args.trials} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
