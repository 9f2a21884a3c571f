"""Figures derived from medians: break-even points, crossovers, FLOP rates (pure)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass


def break_even_steps(extra_start_seconds: float, baseline_step_seconds: float,
                     candidate_step_seconds: float) -> float | None:
    """Steps after which a slower-starting mode has repaid its start-up cost.

    0 when it also starts no slower; None when it never repays (no faster per step).
    """
    if extra_start_seconds <= 0:
        return 0.0
    saving = baseline_step_seconds - candidate_step_seconds
    if saving <= 0:
        return None
    return math.ceil(extra_start_seconds / saving)


def gflops(items_per_second: float, items_per_sample: int, flops_per_sample: int) -> float:
    """Achieved GFLOP/s: samples per second (throughput over units per sample) x FLOPs each."""
    return items_per_second / items_per_sample * flops_per_sample / 1e9


@dataclass(frozen=True)
class Crossover:
    below: int  # the last batch size where `before` led
    above: int  # the first where `after` leads
    before: str
    after: str


def leaders(series: Mapping[str, Mapping[int, float]], *, higher_is_better: bool) -> dict[int, str]:
    """Batch size -> label with the best median among those measured at that size."""
    sizes = sorted({size for values in series.values() for size in values})
    best: dict[int, str] = {}
    for size in sizes:
        measured = {label: values[size] for label, values in series.items() if size in values}
        pick = max if higher_is_better else min
        best[size] = pick(measured, key=lambda label: measured[label])
    return best


def crossovers(series: Mapping[str, Mapping[int, float]], *,
               higher_is_better: bool) -> list[Crossover]:
    """Where the leader changes between consecutive batch sizes."""
    best = leaders(series, higher_is_better=higher_is_better)
    sizes = sorted(best)
    return [Crossover(a, b, best[a], best[b]) for a, b in itertools.pairwise(sizes)
            if best[a] != best[b]]
