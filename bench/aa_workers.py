"""The A/A control with fresh workers and with forked ones, interleaved run by run.

`dlarena calibrate` measures a framework against its identical twin, where every "X faster"
is a false verdict. This runs that control both ways in one store (the same-model checks run
once), alternating each run between fresh worker processes and workers forked from a fork
server (executors/forkserver.py) in the order fresh, forked, forked, fresh, ... so neither
way always runs first or on a warmer machine, and prints for each way: its pairs' decisions
(false verdicts, "no meaningful difference", undecided) and every round's log ratio
twin / framework (median, how many favour the twin, a two-sided sign test), overall and per
workload. A lean that only forked workers show is the fork's; one both show is the machine's
or the twin's.

    .venv/bin/python bench/aa_workers.py [--framework torch]
        [--workloads mlp,cnn,alexnet,resnet50,mobilenet_v2,ncf,transformer] [--runs 6]
        [--size cpu] [--db results/aa-workers.db]

--runs is per way; a store that already holds runs of this script adds to them (--runs 0
only prints what it holds). Nothing else may run on the machine meanwhile (FACTS.md).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from observers import FailuresOnly

from dlarena import registry
from dlarena.analysis import stats, stopping
from dlarena.engine.plan import Request
from dlarena.engine.runner import execute, prepare
from dlarena.executors.local import LocalExecutor
from dlarena.report.build import build_report
from dlarena.scenarios import SCENARIOS, pre_imported
from dlarena.store import Store

WAYS = ("fresh", "forked")
LABEL = "aa_workers"  # the stored label that names a run's way
DEFAULT_WORKLOADS = "mlp,cnn,alexnet,resnet50,mobilenet_v2,ncf,transformer"



def sign_test(positive: int, negative: int) -> float:
    """Two-sided exact binomial test of positive against negative at 1/2."""
    n = positive + negative
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(positive, negative) + 1)) / float(2**n)
    return min(1.0, 2 * tail)


def measure(args: argparse.Namespace, store: Store, twin: str) -> None:
    request = Request(suite="default", frameworks=[args.framework, twin],
                      workloads=args.workloads.split(","), scenarios=["train"], size=args.size,
                      modes=["default"], until_decided=True)
    prepared = prepare(request, {})
    done = sum(1 for run in store.runs() if LABEL in run.environment)
    for index in range(done, done + 2 * args.runs):
        way = WAYS[(index + 1) // 2 % 2]  # fresh, forked, forked, fresh, fresh, ...
        executor = LocalExecutor(forked_scenarios=pre_imported() if way == "forked" else ())
        started = time.monotonic()
        try:
            summary = execute(prepared, store=store, executor=executor, observer=FailuresOnly(),
                              fresh=True, labels={LABEL: way})
        finally:
            executor.close()
        report = build_report(store, summary.run_id, control=False)
        verdicts = [v for group in report.groups for v in group.verdicts]
        false = [v.text for v in verdicts if v.significant]
        print(f"run {summary.run_id} ({way}, {time.monotonic() - started:.0f} s, "
              f"{summary.measured} processes, {summary.failed} failed): {len(false)} false of "
              f"{len(verdicts)}{': ' + '; '.join(false) if false else ''}", flush=True)


def _order(cell: Any, metric: str) -> dict[int, int]:
    """Round -> this cell's place in it (`round_order`); empty where a process left no
    samples (its details could then not be matched to its round)."""
    numbers = cell.process_numbers.get(metric, [])
    if len(numbers) != len(cell.details):
        return {}
    return {number: details.get("round_order", -1)
            for number, details in zip(numbers, cell.details, strict=True)}


def _by_first(twin: Any, framework: Any, metric: str) -> dict[str, list[float]]:
    """Each round's log ratio twin / framework, keyed by which of the two ran first."""
    twin_order, framework_order = _order(twin, metric), _order(framework, metric)
    found: dict[str, list[float]] = defaultdict(list)
    for number in stats.paired_rounds(twin.by_round(metric), framework.by_round(metric)):
        if number in twin_order and number in framework_order:
            first = "twin" if twin_order[number] < framework_order[number] else "framework"
            found[first].extend(stats.round_log_ratios(
                [twin.by_round(metric)[number]], [framework.by_round(metric)[number]]).tolist())
    return found


def summarise(store: Store, framework: str, twin: str) -> None:
    metric = SCENARIOS["train"].headline
    assert metric is not None
    decisions: dict[str, list[str]] = defaultdict(list)
    logs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for run in store.runs():
        way = run.environment.get(LABEL)
        if way is None:
            continue
        report = build_report(store, run.id, control=False)
        for group in report.groups:
            decisions[way].extend(v.decision or stopping.UNDECIDED for v in group.verdicts)
        cells: dict[str, dict[str, Any]] = defaultdict(dict)
        for cell in store.cells(run.id):
            cells[cell.spec.workload][cell.spec.framework] = cell
        for workload, pair in sorted(cells.items()):
            if {framework, twin} <= set(pair):
                logs[(way, workload)].extend(stats.round_log_ratios(
                    pair[twin].by_round(metric), pair[framework].by_round(metric)).tolist())
                for first, values in _by_first(pair[twin], pair[framework], metric).items():
                    logs[(way, f"{first} first")].extend(values)
    print(f"\n{twin} / {framework}, train, each way's runs of this store "
          f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC):")
    print("| way | pairs | false | no meaningful difference | undecided | rounds | "
          "favour the twin | median log ratio | sign test p |")
    print("|---|---|---|---|---|---|---|---|---|")
    for way in WAYS:
        found = decisions.get(way, [])
        values = [x for (w, workload), xs in logs.items()
                  if w == way and not workload.endswith(" first") for x in xs]
        if not found:
            continue
        up, down = sum(x > 0 for x in values), sum(x < 0 for x in values)
        print(f"| {way} | {len(found)} | {found.count(stopping.DIFFERENT)} | "
              f"{found.count(stopping.EQUIVALENT)} | {found.count(stopping.UNDECIDED)} | "
              f"{len(values)} | {up} | {statistics.median(values):+.3f} | "
              f"{sign_test(up, down):.3f} |")
    print("\nper workload, and by which ran first in the round: rounds, favour the twin, "
          "median log ratio (fresh | forked)")
    for workload in sorted({w for _, w in logs}):
        shown = []
        for way in WAYS:
            values = logs.get((way, workload), [])
            shown.append(f"{len(values)}, {sum(x > 0 for x in values)}, "
                         f"{statistics.median(values):+.3f}" if values else "-")
        print(f"  {workload}: {' | '.join(shown)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", default="torch")
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS)
    parser.add_argument("--runs", type=int, default=6, help="per way")
    parser.add_argument("--size", default="cpu")
    parser.add_argument("--db", default="results/aa-workers.db")
    args = parser.parse_args()
    twin = registry.twin(registry.frameworks()[args.framework]).name
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(args.db)
    try:
        if args.runs:
            measure(args, store, twin)
        summarise(store, args.framework, twin)
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
