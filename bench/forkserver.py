"""What fork servers save, and whether a forked worker measures what a fresh one does.

Runs the same plan with fresh worker processes and with forked ones (executors/forkserver.py),
alternating (fresh, forked, fresh, forked, ...), each a new run in a scratch store without
the same-model check, and prints per run the wall time of its worker processes and their
phases, then per cell the median throughput of each way and their ratio (forked / fresh):
a fork must save start-up, not change the steady state.

    .venv/bin/python bench/forkserver.py [--frameworks torch,tensorflow,jax]
        [--workloads mlp,resnet50] [--scenarios train] [--size cpu] [--processes 2]
        [--pairs 2]

Nothing else may run on the machine meanwhile (FACTS.md: it is noisy).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from observers import FailuresOnly

from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.scenarios import SCENARIOS, pre_imported
from dlarena.store import Store

WAYS = ("fresh", "forked")



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="torch,tensorflow,jax")
    parser.add_argument("--workloads", default="mlp,resnet50")
    parser.add_argument("--scenarios", default="train")
    parser.add_argument("--size", default="cpu")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    request = Request(frameworks=args.frameworks.split(","), workloads=args.workloads.split(","),
                      scenarios=args.scenarios.split(","), size=args.size,
                      processes=args.processes, windows=5, check_parity=False)
    throughput: dict[tuple[str, str], list[float]] = defaultdict(list)
    walls: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="dlarena-bench-") as scratch:
        for index in range(args.pairs * len(WAYS)):
            way = WAYS[index % len(WAYS)]
            store = Store.open(Path(scratch) / f"{index}.db")
            executor = LocalExecutor(forked_scenarios=pre_imported() if way == "forked" else ())
            started = time.monotonic()
            try:
                summary = run(request, store=store, executor=executor, interpreters={},
                              observer=FailuresOnly(), fresh=True)
            finally:
                executor.close()
            wall = time.monotonic() - started
            walls[way].append(wall)
            phases: dict[str, float] = defaultdict(float)
            process_wall = 0.0
            for cell in store.cells(summary.run_id):
                process_wall += sum(cell.wall_seconds)
                for details in cell.details:
                    for name, seconds in details.get("phases", {}).items():
                        phases[name] += seconds
                metric = SCENARIOS[cell.spec.scenario].headline
                if metric and cell.samples.get(metric):
                    throughput[(cell.spec.label, way)].append(
                        statistics.median(cell.samples[metric]))
            shown = " ".join(f"{name} {seconds:.1f}" for name, seconds in phases.items())
            print(f"run {index + 1} {way:6s}: {wall:6.1f} s, {summary.measured} processes "
                  f"{process_wall:6.1f} s ({summary.failed} failed) | {shown}", flush=True)
            store.close()
    for way in WAYS:
        print(f"{way:6s}: median run {statistics.median(walls[way]):.1f} s")
    print("cell: median throughput fresh | forked | forked / fresh")
    for label in sorted({label for label, _ in throughput}):
        fresh = statistics.median(throughput[(label, "fresh")])
        forked = statistics.median(throughput[(label, "forked")])
        print(f"  {label}: {fresh:.4g} | {forked:.4g} | {forked / fresh:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
