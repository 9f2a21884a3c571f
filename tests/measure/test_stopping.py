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


def _run(rule: StoppingRule, rng: np.random.Generator, *, effect: float, spread: float,
         prior: bool, pairs: int = 10, drift: float = 0.0, paired: bool = True
         ) -> list[tuple[str, int]]:
    """One simulated adaptive run of `pairs` comparisons on a drifting machine whose cells
    differ in noise: each side's worker processes spread by a sigma drawn between 2% and
    2% x `spread` (log-uniform); the first side is `effect` times faster; each round, the
    machine's level moves both processes of a pair alike by `drift` (log sd). Like the
    runner, each look moderates by the priors of every cell and pair measured so far.
    `paired` False: the unpaired interval only. (decision, rounds) of each pair."""
    sigmas = np.exp(rng.uniform(np.log(0.02), np.log(0.02 * spread), size=(pairs, 2)))
    cells: list[list[list[list[float]]]] = [[[], []] for _ in range(pairs)]
    found: list[tuple[str, int] | None] = [None] * pairs
    for rounds in range(1, rule.max_rounds + 1):
        for index, (first, second) in enumerate(cells):
            if found[index] is None:
                machine = np.exp(rng.normal(0, drift)) if drift else 1.0
                for side, level, sigma in ((first, effect, sigmas[index, 0]),
                                           (second, 1.0, sigmas[index, 1])):
                    centre = 100 * machine * level * np.exp(rng.normal(0, sigma))
                    side.append(list(centre * (1 + rng.normal(0, 0.01, size=rule.windows))))
        if rounds < rule.min_rounds:
            continue
        noise = stopping.stats.run_noise([list(pair) for pair in cells]) if prior else None
        if noise is not None and not paired:
            noise = stopping.stats.RunNoise(noise.cells, None)
        for index, (first, second) in enumerate(cells):
            if found[index] is None:
                if paired:
                    decision = stopping.decide(first, second, rule, rounds=rounds, noise=noise)
                else:
                    decision = stopping.outcome(stopping.stats.hierarchical_ratio_ci(
                        first, second, confidence=rule.confidence,
                        prior=noise.cells if noise else None), rule.equivalence)
                    if decision == stopping.UNDECIDED and rounds < rule.max_rounds:
                        decision = stopping.CONTINUE
                if decision != stopping.CONTINUE:
                    found[index] = (decision, rounds)
    return [result for result in found if result is not None]


def test_borrowing_the_run_s_noise_keeps_false_differences_within_alpha() -> None:
    """Identical frameworks, 20 runs of 10 pairs whose noise differs up to 6x between
    cells: moderating by the run's prior must not call more differences than alpha allows."""
    results = [result for seed in range(20) for result in
               _run(RULE, np.random.default_rng(seed), effect=1.0, spread=6, prior=True)]
    rate = sum(decision == stopping.DIFFERENT for decision, _ in results) / len(results)
    assert len(results) == 200
    assert rate <= 0.05, rate


def test_borrowing_the_run_s_noise_decides_a_clear_difference_sooner() -> None:
    """A 25% difference, noise up to 3x apart between cells: with the prior nearly every
    pair is decided at the first look; from its own two processes alone, far fewer are."""
    def first_look_share(prior: bool) -> float:
        results = [result for seed in range(8) for result in
                   _run(RULE, np.random.default_rng(100 + seed), effect=1.25, spread=3,
                        prior=prior)]
        return sum(decision == stopping.DIFFERENT and rounds == RULE.min_rounds
                   for decision, rounds in results) / len(results)

    moderated, alone = first_look_share(True), first_look_share(False)
    # Paired, a run of 10 pairs holds 10 estimates of the pairs' noise at the first look (20
    # of the cells'): about 0.9 of the pairs are decided there.
    assert moderated >= 0.85, moderated
    assert moderated > alone + 0.3, (moderated, alone)


def test_pairing_rounds_keeps_false_differences_within_alpha_on_a_drifting_machine() -> None:
    """Identical frameworks, 20 runs of 10 pairs, the machine moving both processes of a
    round by 15% (log sd) from round to round: paired intervals must not call more
    differences than alpha allows."""
    results = [result for seed in range(20) for result in
               _run(RULE, np.random.default_rng(300 + seed), effect=1.0, spread=3, prior=True,
                    drift=0.15)]
    rate = sum(decision == stopping.DIFFERENT for decision, _ in results) / len(results)
    assert len(results) == 200
    assert rate <= 0.05, rate


def test_pairing_rounds_decides_a_difference_that_drift_hides_from_unpaired_intervals() -> None:
    """A 10% difference under 15% round-to-round drift of the machine: paired over rounds,
    most pairs are decided (and faster); with each side's processes resampled apart, the
    drift lands in the interval and few are."""
    def decided(paired: bool) -> tuple[float, float]:
        results = [result for seed in range(6) for result in
                   _run(RULE, np.random.default_rng(400 + seed), effect=1.1, spread=2,
                        prior=True, drift=0.15, paired=paired)]
        different = [rounds for decision, rounds in results if decision == stopping.DIFFERENT]
        return len(different) / len(results), float(np.mean([
            rounds for _, rounds in results]))

    (paired, paired_rounds), (unpaired, unpaired_rounds) = decided(True), decided(False)
    assert paired >= 0.8, paired
    assert paired > unpaired + 0.4, (paired, unpaired)
    assert paired_rounds < unpaired_rounds
