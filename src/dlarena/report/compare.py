"""`dlarena compare RUN_A RUN_B`: what changed between two stored runs, cell by cell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlarena.analysis import stats
from dlarena.analysis.verdict import Verdict, compare
from dlarena.store import Store, StoredCell, StoredRun

# Environment fields that must match for a difference to be the code's, not the machine's.
MUST_MATCH = ("hostname", "cpu_model", "cpu_microarchitecture", "cpus_available",
              "memory_bytes", "gpus", "gpu_identity", "os", "python", "framework_versions",
              "threads", "dlarena_version", "git_sha")
METRICS = ("train_throughput", "infer_throughput", "peak_rss_bytes")


@dataclass(frozen=True)
class Change:
    label: str
    metric: str
    before: float
    after: float
    verdict: Verdict  # "run B" vs "run A"


@dataclass(frozen=True)
class RunComparison:
    first: StoredRun
    second: StoredRun
    environment_differences: list[str]
    changes: list[Change]
    only_first: list[str]
    only_second: list[str]

    @property
    def significant(self) -> list[Change]:
        return [change for change in self.changes if change.verdict.significant]


def environment_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [f"{key}: {a.get(key)!r} → {b.get(key)!r}" for key in MUST_MATCH
            if a.get(key) != b.get(key)]


def compare_runs(store: Store, first_id: int, second_id: int) -> RunComparison:
    first, second = store.run(first_id), store.run(second_id)
    cells_a = {cell.spec.key: cell for cell in store.cells(first.id)}
    cells_b = {cell.spec.key: cell for cell in store.cells(second.id)}
    changes = []
    for key, a in cells_a.items():
        b = cells_b.get(key)
        if b is None:
            continue
        changes += _changes(a, b, f"run {first.id}", f"run {second.id}")
    return RunComparison(
        first, second, environment_differences(first.environment, second.environment), changes,
        only_first=[cells_a[k].spec.label for k in cells_a.keys() - cells_b.keys()],
        only_second=[cells_b[k].spec.label for k in cells_b.keys() - cells_a.keys()],
    )


def _changes(a: StoredCell, b: StoredCell, name_a: str, name_b: str) -> list[Change]:
    changes = []
    for metric in METRICS:
        before, after = a.samples_by_process.get(metric), b.samples_by_process.get(metric)
        if before and after:
            changes.append(Change(a.spec.label, metric, stats.median(stats.pooled(before)),
                                  stats.median(stats.pooled(after)),
                                  compare(metric, name_b, after, name_a, before)))
    return changes
