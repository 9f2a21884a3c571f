"""Monte Carlo replay of the adaptive rule on synthetic timings: how often it calls a
difference that is not there, covers the truth, and finds one that is, per workload.

A simulated run holds several workloads, each measured in 2 or 3 frameworks. Every worker
process lands at its own level: the workload's level x the framework's true factor x the
machine's level in that round (shared by the round's processes, `drift`) x a process effect
(log-normal, the workload's `process_noise`); its windows spread by `window_noise` around it.
Whoever runs first in a round pays `first_penalty` (a machine warmer or colder after the
previous group). The order inside each round is the runner's (`ROTATED`: a random order
drawn once per group, rotated by one place each round, so every framework runs first
equally often), drawn afresh each round (`RANDOM`), or fixed (`FIXED`: the rule before
verdict rules 5), to show what each costs.

Each pair's decision is `stopping.settle` on its rounds, the function the runner and every
report call: a pair is final at its first decisive look and its cells keep running while it
is open, so replaying the looks over all `max_rounds` rounds reads exactly what the runner
would have stopped on. tests/analysis/test_calibration.py asserts the figures per workload;
bench/calibration.py prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dlarena.analysis import stopping

ROTATED, RANDOM, FIXED = "rotated", "random", "fixed"


@dataclass(frozen=True)
class Workload:
    """One simulated workload: how much its processes and windows spread (log sd), and each
    framework's true speed factor (the first is the reference, 1.0)."""

    name: str
    process_noise: float
    window_noise: float = 0.01
    factors: tuple[float, ...] = (1.0, 1.0)


@dataclass(frozen=True)
class Mix:
    """A run's workloads and the machine they share."""

    name: str
    workloads: tuple[Workload, ...]
    drift: float = 0.05  # log sd of the machine's level from round to round
    first_penalty: float = 0.0  # fractional slowdown of whoever runs first in a round
    order: str = "rotated"  # ROTATED, RANDOM or FIXED


@dataclass
class Tally:
    """What one workload's pairs did over many simulated runs."""

    pairs: int = 0
    different: int = 0
    wrong_direction: int = 0  # called different, the slower one faster (or any, under A/A)
    false_different: int = 0  # called different where the factors are equal
    equivalent: int = 0
    false_equivalent: int = 0  # within the margin claimed, the truth beyond it
    covered: int = 0  # the verdict's interval holds the true ratio
    rounds: list[int] = field(default_factory=list)

    def rate(self, count: int) -> float:
        return count / self.pairs if self.pairs else 0.0


def _process_levels(workload: Workload, mix: Mix, rng: np.random.Generator,
                    rounds: int) -> np.ndarray:
    """Each framework's process level in each round, (frameworks, rounds), order effects
    included."""
    frameworks = len(workload.factors)
    machine = np.exp(rng.normal(0, mix.drift, size=rounds))
    process = np.exp(rng.normal(0, workload.process_noise, size=(frameworks, rounds)))
    levels = np.asarray(workload.factors)[:, None] * machine[None, :] * process
    offset = int(rng.integers(frameworks))
    for round_index in range(rounds):
        first = {ROTATED: (offset + round_index) % frameworks,
                 RANDOM: int(rng.integers(frameworks)), FIXED: 0}[mix.order]
        levels[first, round_index] *= 1 - mix.first_penalty
    return np.asarray(levels)


def _samples(levels: np.ndarray, noise: float, windows: int, rng: np.random.Generator
             ) -> list[list[float]]:
    """Windows of each process of one framework around its levels (throughput, higher is
    faster)."""
    return [list(100 * level * np.exp(rng.normal(0, noise, size=windows))) for level in levels]


def simulate(mix: Mix, rule: stopping.StoppingRule, runs: int, *, seed: int = 0
             ) -> dict[str, Tally]:
    """`runs` simulated runs of `mix`; workload name -> what its pairs did."""
    rng = np.random.default_rng(seed)
    tallies = {workload.name: Tally() for workload in mix.workloads}
    for _ in range(runs):
        for workload in mix.workloads:
            levels = _process_levels(workload, mix, rng, rule.max_rounds)
            cells = [_samples(row, workload.window_noise, rule.windows, rng) for row in levels]
            for first in range(len(cells)):
                for second in range(first + 1, len(cells)):
                    truth = workload.factors[first] / workload.factors[second]
                    _count(tallies[workload.name], stopping.settle(cells[first], cells[second],
                                                                   rule), truth, rule)
    return tallies


def _count(tally: Tally, found: stopping.Look, truth: float, rule: stopping.StoppingRule
           ) -> None:
    tally.pairs += 1
    tally.rounds.append(found.rounds)
    interval = found.interval
    if interval is not None and interval[0] <= truth <= interval[1]:
        tally.covered += 1
    if found.decision == stopping.DIFFERENT and interval is not None:
        tally.different += 1
        faster_first = interval[0] > 1
        if truth == 1.0:
            tally.false_different += 1
            tally.wrong_direction += 1
        elif faster_first != (truth > 1):
            tally.wrong_direction += 1
    if found.decision == stopping.EQUIVALENT:
        tally.equivalent += 1
        if abs(math.log(truth)) > math.log1p(rule.equivalence):
            tally.false_equivalent += 1


def simulation_error(rate: float, trials: int) -> float:
    """Three binomial standard errors of a rate estimated from `trials` draws."""
    return 3 * math.sqrt(max(rate * (1 - rate), 1e-12) / trials)


def graded(count: int, low: float, high: float, *, frameworks: int = 2,
           factor: float = 1.0) -> tuple[Workload, ...]:
    """`count` workloads whose process noise runs evenly from `low` to `high`, the second
    framework `factor` times the first's speed."""
    noises = np.linspace(low, high, count) if count > 1 else np.array([low])
    factors = (1.0, *([factor] * (frameworks - 1)))
    return tuple(Workload(f"w{index}@{noise:.1%}", float(noise), factors=factors)
                 for index, noise in enumerate(noises))


def mixes(frameworks: int) -> list[Mix]:
    """The mixes of #27 item 6, identical frameworks (A/A), `frameworks` per workload."""
    quiet_and_noisy = (*graded(10, 0.03, 0.05, frameworks=frameworks),
                       Workload("noisy@15%", 0.15, factors=(1.0,) * frameworks))
    very_quiet = (*graded(10, 0.005, 0.01, frameworks=frameworks),
                  Workload("noisy@15%", 0.15, factors=(1.0,) * frameworks))
    return [
        Mix("homogeneous 5%", tuple(Workload(f"w{i}", 0.05, factors=(1.0,) * frameworks)
                                    for i in range(6))),
        Mix("graded 5-15%", graded(6, 0.05, 0.15, frameworks=frameworks)),
        Mix("ten quiet (3-5%) + one noisy", quiet_and_noisy),
        Mix("ten very quiet (0.5-1%) + one noisy", very_quiet),
        Mix("1% first-in-round penalty", graded(4, 0.005, 0.05, frameworks=frameworks),
            first_penalty=0.01),
    ]


