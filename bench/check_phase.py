"""The same-model checks of a suite, one process at a time against two at once.

`dlarena run` proves every compared pair the same model before it measures (one worker
process per framework and mode probes all of its workloads). A check times nothing, so on a
CPU two may share the machine; this times the suite's whole check phase both ways, in the
order one, two, two, one, ... (`--repeats` of each), every process with the run's threads (the
check audits the timed path's precision, which depends on them), and prints the wall time of
each and whether every pair passed.

    .venv/bin/python bench/check_phase.py [--suite default] [--repeats 1]

Nothing else may run on the machine meanwhile (FACTS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from dlarena.cell import ThreadSettings
from dlarena.engine.plan import Request
from dlarena.engine.runner import compared_variants, prepare
from dlarena.executors.local import LocalExecutor
from dlarena.parity.check import check_many, check_processes


def requests_of(suite: str) -> tuple[list[tuple[str, list[tuple[str, str]]]], str, ThreadSettings]:
    """The suite's checks as `dlarena run` asks for them: each workload's compared variants."""
    groups = compared_variants(prepare(Request(suite=suite), {}).planned)
    (_, size, _, threads, _) = next(iter(groups))
    return ([(workload, variants) for (workload, *_), variants in groups.items()
             if len(variants) > 1], size, threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="default")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--only", type=int, choices=(1, 2), help="one way only")
    args = parser.parse_args()
    requests, size, threads = requests_of(args.suite)
    executor = LocalExecutor()
    together = check_processes("cpu", threads)
    print(f"{args.suite}: {len(requests)} workloads, size {size}, threads {threads}; "
          f"at once: 1 and {together}", flush=True)
    seconds: dict[int, list[float]] = {1: [], together: []}
    order = ([1, together, together, 1] * args.repeats)[: 2 * args.repeats]
    if args.only:
        order = [args.only] * args.repeats
    for parallel in order:
        started = time.monotonic()
        found = check_many(requests, size=size, device="cpu", threads=threads,
                           executor=executor, parallel=parallel)
        wall = time.monotonic() - started
        seconds[parallel].append(wall)
        results = [result for workload in found for result in workload]
        passed = sum(result.passed for result in results)
        print(f"  {parallel} at once, {dataclasses.astuple(threads)} threads each: "
              f"{wall:6.1f} s, {passed} of {len(results)} pairs passed", flush=True)
        for result in results:
            if not result.passed:
                why = result.error or "; ".join(
                    [c.detail for c in result.checks if not c.passed]
                    + [f"{a.label}: {a.worst}" for a in result.reduced_precision])
                print(f"    {result.workload} {result.first} vs {result.second}: {why[:400]}")
    for parallel, walls in [(p, w) for p, w in seconds.items() if w]:
        print(f"{parallel} at once: median {statistics.median(walls):.1f} s over {len(walls)}")


if __name__ == "__main__":
    main()
