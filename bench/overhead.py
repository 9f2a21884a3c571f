"""How much does dlarena's timing harness add to a step? Goal: at most 1%.

For mlp and cnn in torch and tensorflow, one process per (framework, workload), set up
exactly as a worker sets up a cell (threads, seed, canonical weights). Inside it, windows of
the same number of steps alternate: dlarena's window (`measure.timing.time_window` over the
harness's cycling step, as scenarios run it) and a minimal hand-written loop
(`for _ in range(n): loss = impl.train_step(batch)`, then one sync). The overhead is the
ratio of the median per-step times minus one, with a 95% bootstrap interval.

    .venv/bin/python bench/overhead.py [--pairs 15] [--size cpu] [--scenario train]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from cells import bench_cell, run_inner

from dlarena.analysis import stats
from dlarena.cell import CellSpec
from dlarena.engine.environment import available_cpus
from dlarena.worker.timing import measure, time_window


def inner(cell: CellSpec, pairs: int) -> dict[str, Any]:
    """Runs inside the child process: returns per-step seconds of both loops."""
    from dlarena.worker.main import build_cell
    from dlarena.worker.parts import cycling, device_batches

    built = build_cell(cell, lambda *_: None)
    impl, runtime = built.impl, built.runtime
    training = cell.scenario == "train"
    impl.prepare(training=training)
    step = impl.train_step if training else impl.infer_step
    batches = device_batches(impl, built.workload, cell)
    harness = cycling(step, batches)
    # Calibrate and warm up with the harness itself, as a cell does.
    steps = measure(harness, runtime.sync, cell.measure).steps_per_window

    def hand_written() -> float:
        batch = batches[0]
        start = time.perf_counter()
        loss = None
        for _ in range(steps):
            loss = step(batch)
        runtime.sync(loss)
        return (time.perf_counter() - start) / steps

    dlarena_times, hand_times = [], []
    for index in range(pairs):
        # Alternate which loop goes first, so drift favours neither.
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for which in order:
            if which == 0:
                dlarena_times.append(time_window(harness, runtime.sync, steps,
                                                 time.perf_counter).seconds_per_step)
            else:
                hand_times.append(hand_written())
    return {"steps": steps, "dlarena": dlarena_times, "hand": hand_times}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--size", default="cpu")
    parser.add_argument("--scenario", default="train", choices=("train", "infer"))
    parser.add_argument("--frameworks", default="torch,tensorflow")
    parser.add_argument("--workloads", default="mlp,cnn")
    parser.add_argument("--inner", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.inner:
        print(json.dumps(inner(CellSpec.from_json(args.inner), args.pairs)))
        return 0


    cpus = available_cpus()
    print(f"harness overhead, {args.scenario} at {args.size} size, {cpus} threads, "
          f"{args.pairs} interleaved window pairs (goal: <= 1%)")
    print(f"{'cell':<28} {'steps/window':>12} {'hand ms/step':>13} {'dlarena':>10} "
          f"{'overhead':>9}  95% CI")
    for framework in args.frameworks.split(","):
        for workload in args.workloads.split(","):
            cell = bench_cell(framework, workload, size=args.size, scenario=args.scenario)
            result, error = run_inner(__file__, cell, ["--pairs", str(args.pairs)])
            if result is None:
                print(f"{workload}/{framework}: failed: {error.splitlines()[-1:]}")
                continue
            hand, ours = result["hand"], result["dlarena"]
            ratio = stats.median(ours) / stats.median(hand)
            interval = stats.ratio_of_medians_ci(ours, hand)
            ci = f"{(interval[0] - 1):+.2%} to {(interval[1] - 1):+.2%}" if interval else "–"
            print(f"{workload + ' ' + framework:<28} {result['steps']:>12} "
                  f"{stats.median(hand) * 1e3:>13.3f} {stats.median(ours) * 1e3:>10.3f} "
                  f"{ratio - 1:>+9.2%}  {ci}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
