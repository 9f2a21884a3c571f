"""The adaptive stopping rule: each pair on its own rounds, final at its first decisive
look, equivalence by two one-sided tests, a budget that says what it would need."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlarena.analysis import stats, stopping
from dlarena.analysis.stopping import StoppingRule

RULE = StoppingRule(min_rounds=2, max_rounds=5, windows=3)


def _rounds(levels: list[float]) -> list[list[float]]:
    """One process per level, three windows agreeing to 0.1%."""
    return [[level * 0.999, level, level * 1.001] for level in levels]


def test_alpha_is_spent_equally_over_every_look_for_both_claims() -> None:
    assert RULE.looks == 4
    assert RULE.confidence == pytest.approx(1 - 0.05 / 4)
    assert RULE.equivalence_confidence == pytest.approx(1 - 2 * 0.05 / 4)
    assert RULE.overall == pytest.approx(0.95)
    assert RULE.equivalence == stopping.DEFAULT_EQUIVALENCE == 0.05
    assert StoppingRule.from_json(RULE.to_json()) == RULE
    with pytest.raises(ValueError):
        StoppingRule(min_rounds=3, max_rounds=2)


def test_an_interval_within_the_margin() -> None:
    assert stopping.within((0.99, 1.015), 0.02)
    assert not stopping.within((0.97, 1.015), 0.02)
    # The margin is symmetric for a ratio and its inverse.
    assert stopping.within((1 / 1.05, 1.05), 0.05)
    assert not stopping.within((0.95, 1.0), 0.05)


def test_a_clear_difference_is_decided_at_the_first_look() -> None:
    fast, slow = _rounds([10.0, 10.1]), _rounds([5.0, 5.02])
    assert stopping.settle(fast[:1], slow[:1], RULE).decision == stopping.CONTINUE
    found = stopping.settle(fast, slow, RULE)
    assert (found.decision, found.rounds) == (stopping.DIFFERENT, 2)
    assert found.interval is not None and 1.5 < found.interval[0] < 2 < found.interval[1]


def test_a_decision_is_final_at_its_first_decisive_look() -> None:
    """Decided 'different' after 2 rounds; later rounds (measured for the group's other
    pairs) that would blur the interval do not undo it, and the verdict reads that look."""
    a = _rounds([200.0, 201.0, 100.0, 300.0, 90.0])
    b = _rounds([100.0, 100.4, 100.0, 100.0, 100.0])
    found = stopping.settle(a, b, RULE)
    assert (found.decision, found.rounds) == (stopping.DIFFERENT, 2)
    blurred = stats.paired_ratio_ci(a, b, confidence=RULE.confidence)
    assert blurred is not None and not stats.is_significant(blurred)
    assert not stopping.within(blurred, RULE.equivalence)
    assert stats.ratio_of_rounds(a, b, found.rounds) == pytest.approx(
        math.sqrt(2.0 * 201 / 100.4))


def test_identical_code_reads_no_meaningful_difference_by_two_one_sided_tests() -> None:
    a = _rounds([100.0, 101.0, 99.5])
    b = _rounds([100.5, 100.0, 100.0])
    found = stopping.settle(a, b, RULE)
    assert found.decision == stopping.EQUIVALENT
    assert found.confidence == RULE.equivalence_confidence
    assert found.interval is not None and stopping.within(found.interval, 0.05)
    assert stopping.settle(a, b, StoppingRule(equivalence=0.002)).decision != (
        stopping.EQUIVALENT)


def test_a_pair_its_budget_cannot_decide_stops_early_and_says_what_it_needs() -> None:
    """Rounds 30% apart, the two sides alike on average: no difference and no equivalence
    within 5 rounds; from the third look on the rule stops it and estimates the rounds."""
    a = _rounds([100.0, 130.0, 77.0, 100.0, 100.0])
    b = _rounds([100.0, 100.0, 100.0, 100.0, 100.0])
    found = stopping.settle(a, b, RULE)
    assert found.decision == stopping.UNDECIDED
    assert found.rounds == 3
    assert found.needed is not None and found.needed > RULE.max_rounds
    logs = stats.round_log_ratios(a, b)[:3]
    assert found.needed == stats.rounds_needed(
        logs, confidence=RULE.confidence, equivalence_confidence=RULE.equivalence_confidence,
        margin=RULE.equivalence)
    assert stopping.needs_text(found, 20.0) == (
        f"needs about {found.needed} rounds at this noise "
        f"(≈ {math.ceil(found.needed * 20 / 60)} min)")
    assert stopping.needs_text(stopping.settle(a[:2], b[:2], RULE), None).startswith(
        "needs about")


def test_the_budget_ends_a_pair_that_might_still_be_decided_as_undecided() -> None:
    """Rounds 0-8% apart in a 4% mean: within reach (about 8 rounds, under twice the
    budget), so the pair stays open through round 4 and is undecided when the budget of 5
    is spent, saying what it would need."""
    logs = [0.05, 0.0, 0.08, 0.02, 0.06]
    a = _rounds([100 * math.exp(value) for value in logs])
    b = _rounds([100.0] * 5)
    assert stopping.settle(a[:4], b[:4], RULE).decision == stopping.CONTINUE
    found = stopping.settle(a, b, RULE)
    assert (found.decision, found.rounds) == (stopping.UNDECIDED, RULE.max_rounds)
    assert found.needed is not None and RULE.max_rounds < found.needed <= 2 * RULE.max_rounds


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
        if stats.is_significant(stats.hierarchical_ratio_ci(a, b, confidence=looked.confidence)):
            return stopping.DIFFERENT
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
