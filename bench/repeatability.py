"""Do two back-to-back measurements of the same cells agree? Goal: within ±3%.

Runs the chosen cells twice with dlarena's own runner and executor (a fresh run each time,
into a temporary store), then prints for every cell the ratio of the second run's median to
the first's, with its 95% bootstrap interval.

    .venv/bin/python bench/repeatability.py [--size smoke] [--windows 10] [--min-window 0.1]
                                            [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from dlarena.analysis import stats
from dlarena.cell import ThreadSettings
from dlarena.engine.plan import PlannedCell, Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.store import Store


class Quiet:
    def planned(self, *args: Any) -> None: ...
    def started(self, index: int, total: int, planned: PlannedCell) -> None:
        print(f"  [{index}/{total}] {planned.cell.label}", file=sys.stderr)
    def progress(self, *args: Any) -> None: ...
    def finished(self, *args: Any) -> None: ...
    def checking(self, *args: Any) -> None: ...
    def checked(self, *args: Any, **kwargs: Any) -> None: ...
    def note(self, text: str) -> None: ...


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="smoke")
    parser.add_argument("--frameworks", default="torch,tensorflow")
    parser.add_argument("--workloads", default="mlp,cnn")
    parser.add_argument("--scenarios", default="train,infer")
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--min-window", type=float, default=0.1)
    parser.add_argument("--threads", type=int, help="intra- and inter-op (default: all CPUs)")
    args = parser.parse_args()

    request = Request(
        suite="default", size=args.size, frameworks=args.frameworks.split(","),
        workloads=args.workloads.split(","), scenarios=args.scenarios.split(","),
        windows=args.windows, min_window_seconds=args.min_window, until_decided=False,
        threads=ThreadSettings(args.threads, args.threads) if args.threads else None,
    )
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(Path(folder) / "repeat.db")
        runs = []
        for attempt in (1, 2):
            print(f"measurement {attempt} of 2", file=sys.stderr)
            runs.append(run(request, store=store, executor=LocalExecutor(), interpreters={},
                            observer=Quiet(), fresh=True).run_id)
        first, second = ({c.spec.key: c for c in store.cells(r)} for r in runs)

    print(f"repeatability at {args.size} size: {args.windows} windows of >= {args.min_window} s"
          " per cell, measured twice back to back (goal: within ±3%)")
    print(f"{'cell':<44} {'median 1':>10} {'median 2':>10} {'2 / 1':>8}  95% CI       within 3%")
    for key, a in first.items():
        b = second.get(key)
        metric = f"{a.spec.scenario}_throughput"
        if b is None or not (a.ok and b.ok):
            print(f"{a.spec.label:<44} failed: {a.error or (b.error if b else 'missing')}")
            continue
        x, y = a.samples[metric], b.samples[metric]
        ratio = stats.median(y) / stats.median(x)
        interval = stats.ratio_of_medians_ci(y, x)
        ci = f"{interval[0]:.3f}–{interval[1]:.3f}" if interval else "–"
        print(f"{a.spec.label:<44} {stats.median(x):>10.0f} {stats.median(y):>10.0f} "
              f"{ratio:>8.3f}  {ci:<12} {'yes' if abs(ratio - 1) <= 0.03 else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
