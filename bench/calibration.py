"""The adaptive rule's calibration and power, per workload, from simulated runs.

Prints, for each mix of #27 (identical frameworks, 2 and 3 per workload): each workload's
false-verdict rate, the coverage of its verdicts' intervals, how often it reads "no
meaningful difference" and its mean rounds; then the power table: how often a true 5%, 10%
or 20% difference is found (in the right direction) at 1-10% process noise, and in how many
rounds. Every pair goes through `stopping.settle`, the function the runner stops on
(analysis/simulation.py). tests/analysis/test_calibration.py asserts the same figures.

    .venv/bin/python bench/calibration.py [--runs 2000] [--max-rounds 5] [--equivalence 0.05]
"""

from __future__ import annotations

import argparse
import statistics

from dlarena.analysis import simulation as sim
from dlarena.analysis import stopping


def _calibration(rule: stopping.StoppingRule, runs: int) -> None:
    print("| frameworks | mix | workload | false verdicts | coverage | no meaningful "
          "difference | mean rounds |")
    print("|---|---|---|---|---|---|---|")
    for frameworks in (2, 3):
        for index, mix in enumerate(sim.mixes(frameworks)):
            for name, tally in sim.simulate(mix, rule, runs, seed=index).items():
                print(f"| {frameworks} | {mix.name} | {name} | "
                      f"{tally.rate(tally.false_different):.1%} | {tally.rate(tally.covered):.1%} "
                      f"| {tally.rate(tally.equivalent):.0%} | "
                      f"{statistics.mean(tally.rounds):.1f} |")


def _power(rule: stopping.StoppingRule, runs: int) -> None:
    print("\n| true difference | process noise | found (right way) | wrong way | "
          "'no meaningful difference' | mean rounds |")
    print("|---|---|---|---|---|---|")
    for factor in (1.05, 1.10, 1.20):
        mix = sim.Mix(f"x{factor}", tuple(
            sim.Workload(f"{noise:.0%}", noise, factors=(1.0, factor))
            for noise in (0.01, 0.03, 0.05, 0.10)))
        for name, tally in sim.simulate(mix, rule, runs, seed=int(factor * 100)).items():
            right = tally.different - tally.wrong_direction
            print(f"| {factor - 1:.0%} | {name} | {right / tally.pairs:.0%} | "
                  f"{tally.rate(tally.wrong_direction):.1%} | {tally.rate(tally.equivalent):.0%} | "
                  f"{statistics.mean(tally.rounds):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--max-rounds", type=int, default=stopping.StoppingRule.max_rounds)
    parser.add_argument("--equivalence", type=float, default=stopping.DEFAULT_EQUIVALENCE)
    args = parser.parse_args()
    rule = stopping.StoppingRule(max_rounds=args.max_rounds, equivalence=args.equivalence)
    print(f"rule: {rule.min_rounds}-{rule.max_rounds} rounds, {rule.windows} windows, "
          f"{rule.overall:.0%} over all looks ({rule.confidence:.2%} per look), equivalence "
          f"±{rule.equivalence:.0%}; {args.runs} simulated runs per mix; machine drift "
          f"{sim.Mix('', ()).drift:.0%} per round, windows ±1%\n")
    _calibration(rule, args.runs)
    _power(rule, args.runs)


if __name__ == "__main__":
    main()
