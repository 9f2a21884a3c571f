"""What does the Ray executor add to a cell, against the local executor? Fake cells (about a
second of work each), run alternately by both executors from this process; the time of each
`executor.run` call is taken here, at the coordinator, so Ray's dispatch, scheduling and the
return of the outcome are inside it. The private local Ray cluster's start is reported
apart. One node, so the cells run one at a time under both executors.

    .venv/bin/python bench/ray_overhead.py [--pairs 8]
"""

from __future__ import annotations

import argparse
import json
import time

from dlarena.analysis import stats
from dlarena.cell import MeasureSettings, ThreadSettings
from dlarena.engine.plan import Request, build_plan
from dlarena.executors.base import Executor
from dlarena.executors.local import LocalExecutor
from dlarena.executors.ray import RayExecutor


def timed(executor: Executor, cell: object) -> float:
    start = time.perf_counter()
    outcome = executor.run(cell, lambda _cell, _event: None)  # type: ignore[arg-type]
    if outcome.status != "ok":
        raise SystemExit(f"a cell failed: {outcome.error}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    [planned] = build_plan(Request(suite="smoke", frameworks=["fake"], workloads=["mlp"],
                                   scenarios=["train"], windows=3, min_window_seconds=0.05),
                           ThreadSettings(1, 1))
    cell = planned.cell
    assert isinstance(cell.measure, MeasureSettings)
    started = time.perf_counter()
    ray = RayExecutor()
    start_seconds = time.perf_counter() - started
    local = LocalExecutor()
    try:
        timed(ray, cell)  # the first task also starts Ray's worker process
        pairs = [(timed(local, cell), timed(ray, cell)) for _ in range(args.pairs)]
    finally:
        ray.close()
    local_seconds = [a for a, _ in pairs]
    ray_seconds = [b for _, b in pairs]
    differences = [b - a for a, b in pairs]
    print(json.dumps({
        "cluster_start_seconds": round(start_seconds, 2),
        "pairs": args.pairs,
        "local_cell_seconds_median": round(stats.median(local_seconds), 3),
        "ray_cell_seconds_median": round(stats.median(ray_seconds), 3),
        "overhead_seconds_median": round(stats.median(differences), 3),
        "overhead_seconds_all": [round(d, 3) for d in differences],
    }, indent=2))


if __name__ == "__main__":
    main()
