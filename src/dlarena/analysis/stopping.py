"""When to stop measuring a comparison: as soon as it is answered, with the error rate of
repeated looks controlled, each pair judged on its own noise.

A group of cells (one workload and scenario in several frameworks or modes) is measured in
rounds; each round runs one fresh worker process per open cell, in an order rotated each
round (the runner). After `min_rounds` rounds, and after each round from then on, every open pair is
looked at (`look`):
- **different** when the paired t interval of its rounds' log ratios of process medians
  (`stats.log_mean_interval`, at `confidence`) excludes 1;
- **equivalent** ("no meaningful difference") when two one-sided tests at the margin
  ±`equivalence` both reject (TOST: the interval at `equivalence_confidence` lies within
  1/(1 + m) .. 1 + m);
- **undecided** when the budget is spent, or when, from the third round on, the pair would
  need more than twice `max_rounds` rounds at its measured noise (`stats.rounds_needed`):
  measuring on would only spend time;
- otherwise **continue**.
A pair is final at its first decisive look (`settle` replays the looks, so the runner and
every report read the same decision from the same samples); a cell stops when every pair it
belongs to is final.

Each look spends an equal share of alpha (Bonferroni over the at most `looks` looks), for
the difference and for the equivalence claim alike: by the union bound the chance that any
look calls a difference that is not there stays <= alpha, and so does the chance of calling
"no meaningful difference" where the truth lies beyond the margin. It needs no assumption
about how the looks correlate. An interval a verdict shows is at the per-look confidence, so
all of a run's looks together cover with at least 1 - alpha ("95% over all looks").

No pair borrows noise from other workloads: a run-wide variance prior judged a noisy model
with its quiet neighbours' variance (12-33% false differences on the noisy workload,
simulated). Calibration per workload and per noise level: tests/analysis/test_calibration.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from dlarena.analysis import stats

DIFFERENT = "different"
EQUIVALENT = "equivalent"
UNDECIDED = "undecided"
CONTINUE = "continue"

# The margin within which two frameworks count as equally fast when nobody says otherwise:
# a difference users would not act on, and one this machine's noise (3-10% between worker
# processes) lets a pair reach within the default budget.
DEFAULT_EQUIVALENCE = 0.05

# A pair stops early as undecided when it would need more than this many times the budget's
# rounds at its measured noise. Simulated (bench/calibration.py), stopping at 1x the budget
# found a true 10% difference at 5% process noise in 25% of pairs in 3.3 rounds on average;
# at 2x, in 32% in 4.1 rounds; never stopping early, 32% in 4.7.
OUT_OF_REACH = 2


@dataclass(frozen=True)
class StoppingRule:
    min_rounds: int = 2
    max_rounds: int = 5
    # Timed windows per worker process (per round).
    windows: int = 3
    # Ratios within 1/(1 + this) .. 1 + this are practically equal.
    equivalence: float = DEFAULT_EQUIVALENCE
    alpha: float = 1 - stats.CONFIDENCE

    def __post_init__(self) -> None:
        if not 1 <= self.min_rounds <= self.max_rounds:
            raise ValueError(f"need 1 <= min_rounds <= max_rounds, got {self}")
        if self.windows < 1 or not 0 < self.alpha < 0.5 or not 0 <= self.equivalence < 1:
            raise ValueError(f"invalid stopping rule {self}")

    @property
    def looks(self) -> int:
        return self.max_rounds - self.min_rounds + 1

    @property
    def confidence(self) -> float:
        """Each look's two-sided confidence for a difference: alpha spent equally over every
        possible look."""
        return 1 - self.alpha / self.looks

    @property
    def equivalence_confidence(self) -> float:
        """Each look's interval for equivalence: two one-sided tests at alpha / looks each."""
        return 1 - 2 * self.alpha / self.looks

    @property
    def overall(self) -> float:
        """What every look's intervals hold together: 1 - alpha."""
        return 1 - self.alpha

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "looks": self.looks, "confidence": self.confidence,
                "equivalence_confidence": self.equivalence_confidence}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoppingRule:
        return cls(**{key: data[key] for key in
                      ("min_rounds", "max_rounds", "windows", "equivalence", "alpha")})


@dataclass(frozen=True)
class Look:
    """What one look at a pair found."""

    decision: str
    # Rounds both sides were measured in, as many as the look read.
    rounds: int
    # The interval the decision rests on (the equivalence one for EQUIVALENT), and its
    # per-look confidence; None with fewer than two rounds.
    interval: tuple[float, float] | None
    confidence: float
    # About how many rounds its noise needs to decide (UNDECIDED and CONTINUE); None: more
    # than stats.MOST_ROUNDS, or unknown.
    needed: int | None = None

    @property
    def final(self) -> bool:
        return self.decision != CONTINUE


def within(interval: tuple[float, float], equivalence: float) -> bool:
    """The interval lies inside 1/(1 + m) .. 1 + m (symmetric for a ratio and its inverse)."""
    return 1 / (1 + equivalence) <= interval[0] and interval[1] <= 1 + equivalence


def look(logs: np.ndarray, rule: StoppingRule) -> Look:
    """One look at a pair whose rounds so far gave the log ratios `logs`."""
    rounds = int(logs.size)
    difference = stats.log_mean_interval(logs, rule.confidence)
    if difference is not None and stats.is_significant(difference):
        return Look(DIFFERENT, rounds, difference, rule.confidence)
    equivalence = stats.log_mean_interval(logs, rule.equivalence_confidence)
    if equivalence is not None and within(equivalence, rule.equivalence):
        return Look(EQUIVALENT, rounds, equivalence, rule.equivalence_confidence)
    needed = stats.rounds_needed(logs, confidence=rule.confidence,
                                 equivalence_confidence=rule.equivalence_confidence,
                                 margin=rule.equivalence)
    # Two degrees of freedom before giving up (one round's spread says little of the noise),
    # and only for a pair that looks far out of reach: the estimate from 2-3 rounds is rough.
    hopeless = rounds > rule.min_rounds and (
        needed is None or needed > OUT_OF_REACH * rule.max_rounds)
    decision = UNDECIDED if rounds >= rule.max_rounds or hopeless else CONTINUE
    return Look(decision, rounds, difference, rule.confidence, needed)


def settle(a: stats.Samples, b: stats.Samples, rule: StoppingRule) -> Look:
    """The pair's decision: its first final look over the rounds both sides were measured
    in, or the latest look while it is open (CONTINUE; fewer than `min_rounds` rounds give
    a look without an interval)."""
    logs = stats.round_log_ratios(a, b)
    if logs.size < rule.min_rounds:
        return Look(CONTINUE, int(logs.size), None, rule.confidence)
    found = look(logs[:rule.min_rounds], rule)
    for rounds in range(rule.min_rounds + 1, min(logs.size, rule.max_rounds) + 1):
        if found.final:
            break
        found = look(logs[:rounds], rule)
    return found


def needs_text(found: Look, seconds_per_round: float | None) -> str:
    """"needs about 14 rounds (≈ 3 min)" for an open or undecided pair; empty otherwise."""
    if found.decision not in (UNDECIDED, CONTINUE) or found.rounds < 2:
        return ""
    if found.needed is None:
        return f"needs more than {stats.MOST_ROUNDS} rounds at this noise"
    text = f"needs about {found.needed} rounds at this noise"
    if seconds_per_round:
        minutes = found.needed * seconds_per_round / 60
        text += f" (≈ {math.ceil(minutes)} min)"
    return text
