"""The adaptive stopping rule: decisions from intervals, alpha spent over the looks."""

from __future__ import annotations

import numpy as np
import pytest

from dlarena.measure import stopping
from dlarena.measure.stopping import StoppingRule

RULE = StoppingRule(min_rounds=2, max_rounds=5, windows=3)


def test_alpha_is_spent_equally_over_every_look() -> None:
    assert RULE.looks == 4
    assert RULE.confidence == pytest.approx(1 - 0.05 / 4)
    assert StoppingRule.from_json(RULE.to_json()) == RULE
    with pytest.raises(ValueError):
        StoppingRule(min_rounds=3, max_rounds=2)


def test_outcomes_of_an_interval() -> None:
    assert stopping.outcome((1.05, 1.2), 0.02) == stopping.DIFFERENT
    assert stopping.outcome((0.7, 0.9), 0.02) == stopping.DIFFERENT
    assert stopping.outcome((0.99, 1.015), 0.02) == stopping.EQUIVALENT
    assert stopping.outcome((0.97, 1.015), 0.02) == stopping.UNDECIDED
    assert stopping.outcome(None, 0.02) == stopping.UNDECIDED


def test_a_clear_difference_is_decided_at_the_first_look() -> None:
    fast = [[10.0, 10.1, 9.9], [10.2, 10.0, 10.1]]
    slow = [[5.0, 5.1, 4.9], [5.05, 5.0, 4.95]]
    assert stopping.decide(fast[:1], slow[:1], RULE, rounds=1) == stopping.CONTINUE
    assert stopping.decide(fast, slow, RULE, rounds=2) == stopping.DIFFERENT


def test_a_tight_tie_is_equivalent_and_a_loose_one_runs_to_the_budget() -> None:
    a = [[100.0, 100.1, 99.9], [100.05, 100.0, 99.95]]
    b = [[100.02, 99.98, 100.0], [100.0, 100.06, 99.96]]
    assert stopping.decide(a, b, RULE, rounds=2) == stopping.EQUIVALENT
    noisy_a = [[100.0, 104.0, 96.0], [93.0, 101.0, 107.0]]
    noisy_b = [[101.0, 95.0, 105.0], [99.0, 108.0, 94.0]]
    assert stopping.decide(noisy_a, noisy_b, RULE, rounds=2) == stopping.CONTINUE
    assert stopping.decide(noisy_a, noisy_b, RULE, rounds=5) == stopping.UNDECIDED


def _sequential(rule: StoppingRule, confidence: float | None, rng: np.random.Generator) -> str:
    """One simulated comparison of two identical frameworks on a drifting machine: every
    worker process lands at its own level (±3%), its windows agree to 0.5%."""
    a: list[list[float]] = []
    b: list[list[float]] = []
    for rounds in range(1, rule.max_rounds + 1):
        for side in (a, b):
            level = 100 * (1 + rng.normal(0, 0.03))
            side.append(list(level * (1 + rng.normal(0, 0.005, size=rule.windows))))
        if rounds < rule.min_rounds:
            continue
        looked = rule if confidence is None else StoppingRule(
            min_rounds=rule.max_rounds, max_rounds=rule.max_rounds, alpha=1 - confidence)
        found = stopping.outcome(
            stopping.stats.hierarchical_ratio_ci(a, b, confidence=looked.confidence),
            rule.equivalence)
        if found == stopping.DIFFERENT:
            return found
    return stopping.UNDECIDED


def test_repeated_looks_keep_false_differences_rare() -> None:
    """Identical frameworks, 150 simulated runs: looking after every round at a plain 95%
    interval calls a difference more often than spending alpha over the looks does, and the
    rule's rate stays near its 5%."""
    rule = StoppingRule(min_rounds=2, max_rounds=4, windows=3)
    spent = [_sequential(rule, None, np.random.default_rng(seed)) for seed in range(150)]
    naive = [_sequential(rule, 0.95, np.random.default_rng(seed)) for seed in range(150)]
    spent_rate = spent.count(stopping.DIFFERENT) / len(spent)
    naive_rate = naive.count(stopping.DIFFERENT) / len(naive)
    assert spent_rate <= naive_rate
    assert spent_rate <= 0.08, spent_rate
