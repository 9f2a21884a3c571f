"""When to stop measuring a comparison: as soon as it is answered, with the error rate of
repeated looks controlled.

A group of cells (one workload and scenario in several frameworks or modes) is measured in
rounds; each round runs one fresh worker process per cell, frameworks alternating. After
`min_rounds` rounds, and after each round from then on, every pair's ratio of medians gets a
hierarchical bootstrap interval (processes, then blocks of windows). A pair is decided when
its interval excludes 1 ("different") or lies within 1 ± `equivalence` ("equivalent"); the
group stops when every pair is decided, or after `max_rounds` ("undecided" pairs stay so).

Looking after every round would inflate the false-positive rate of a fixed 95% interval, so
each look spends an equal share of alpha (Bonferroni over the at most `looks` looks): by the
union bound the chance that any look calls a difference that is not there stays <= alpha.
It is conservative and needs no assumption about how the looks correlate, which matters
here: the bootstrap's intervals are not normal-theory ones that a Pocock or O'Brien-Fleming
boundary assumes. Verdicts of such a run are reported at the same confidence.

Two or three processes alone give an interval too wide to decide much (t has 2-4 degrees of
freedom), and this machine drifts tens of percent between minutes. So each look's interval
borrows strength from the run's other cells on the same metric (`stats.NoisePrior`, an
empirical-Bayes moderated t): cells that share the machine share its noise, as far as their
agreement shows. Simulated on heterogeneous noise, the rule keeps false differences within
alpha (tests/measure/test_stopping.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dlarena.measure import stats

DIFFERENT = "different"
EQUIVALENT = "equivalent"
UNDECIDED = "undecided"
CONTINUE = "continue"


@dataclass(frozen=True)
class StoppingRule:
    min_rounds: int = 2
    max_rounds: int = 5
    # Timed windows per worker process (per round).
    windows: int = 3
    # Ratios within 1 ± this are practically equal.
    equivalence: float = 0.02
    alpha: float = 1 - stats.CONFIDENCE

    def __post_init__(self) -> None:
        if not 1 <= self.min_rounds <= self.max_rounds:
            raise ValueError(f"need 1 <= min_rounds <= max_rounds, got {self}")
        if self.windows < 1 or not 0 < self.alpha < 1 or not 0 <= self.equivalence < 1:
            raise ValueError(f"invalid stopping rule {self}")

    @property
    def looks(self) -> int:
        return self.max_rounds - self.min_rounds + 1

    @property
    def confidence(self) -> float:
        """Each look's confidence level: alpha spent equally over every possible look."""
        return 1 - self.alpha / self.looks

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "looks": self.looks, "confidence": self.confidence}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoppingRule:
        return cls(**{key: data[key] for key in
                      ("min_rounds", "max_rounds", "windows", "equivalence", "alpha")})


def outcome(interval: tuple[float, float] | None, equivalence: float) -> str:
    """What an interval of a ratio says: different, equivalent, or not yet either."""
    if interval is None:
        return UNDECIDED
    if stats.is_significant(interval):
        return DIFFERENT
    if 1 - equivalence <= interval[0] and interval[1] <= 1 + equivalence:
        return EQUIVALENT
    return UNDECIDED


def decide(a: stats.Samples, b: stats.Samples, rule: StoppingRule, *, rounds: int,
           noise: stats.RunNoise | None = None) -> str:
    """One pair after `rounds` rounds: different, equivalent, undecided (budget spent) or
    continue. `noise`: what the run's cells and pairs say about its noise so far."""
    if rounds < rule.min_rounds:
        return CONTINUE
    found = outcome(stats.ratio_ci(a, b, confidence=rule.confidence, noise=noise),
                    rule.equivalence)
    if found == UNDECIDED and rounds < rule.max_rounds:
        return CONTINUE
    return found
