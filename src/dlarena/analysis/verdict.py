"""Plain-words verdicts between two frameworks, and the flags that mark unstable cells."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import combinations, pairwise
from typing import Any, TypeVar

from dlarena.analysis import stats, stopping
from dlarena.analysis.metrics import METRICS

UNSTABLE_CV = 0.05
MIN_SAMPLES = 3
# A window shorter than this many clock ticks is too close to the timer's resolution.
MIN_TICKS_PER_WINDOW = 10_000


# Up to this many variants in a group, every pair gets a verdict (three frameworks: each pair
# is a question someone asks); beyond, ranked neighbours only.
EVERY_PAIR_UP_TO = 3

T = TypeVar("T")


def compared_pairs(variants: Sequence[T], median: Callable[[T], float],
                   higher_is_better: bool | None) -> list[tuple[T, T]]:
    """Which pairs of a group get a verdict (the runner's stopping decisions and the reports
    share this): every pair of up to `EVERY_PAIR_UP_TO` variants, else the variants ranked
    best first and each compared with the next one down (k - 1 verdicts, not k(k - 1) / 2)."""
    if len(variants) <= EVERY_PAIR_UP_TO:
        return list(combinations(variants, 2))
    ranked = sorted(variants, key=median, reverse=higher_is_better is True)
    return list(pairwise(ranked))


@dataclass(frozen=True)
class Verdict:
    metric: str
    first: str
    second: str
    # median(first) / median(second): of each round's processes, geometric mean over rounds
    # where both sides have two or more (stats.ratio), else of the pooled windows
    ratio: float
    interval: tuple[float, float] | None
    significant: bool
    text: str
    # The better of the two when the difference is significant (faster, or lower for costs).
    better: str | None = None
    comparable: bool = True
    # With a stopping rule: different, equivalent or undecided (see measure.stopping).
    decision: str | None = None
    # With a stopping rule: the rounds its decisive (or last) look read, and about how many
    # an undecided pair would need at its measured noise (None: unknown or over 1000).
    rounds: int | None = None
    needed: int | None = None
    # The same-model check the verdict rests on ("torch/eager vs tensorflow/function in
    # float64, …"); None when the pair was not checked.
    checked: str | None = None
    # False when a side has one worker process: the interval is of that process's windows and
    # leaves out how much processes differ (see ONE_PROCESS).
    between_processes: bool = True


# What a verdict from one process on a side does not show. On this machine a cnn training
# pair measured in one process each read "tensorflow 1.24x faster (95% CI 1.22 to 1.27)"; six
# processes each (bench/time_to_verdict.py, the same day) gave 0.97 (0.87 to 1.08).
ONE_PROCESS = ("one process on a side: the interval holds that process's windows, not the "
               "differences between processes (--processes 2 or more, or --until-decided)")


def confidence_label(confidence: float, *, overall: float | None = None) -> str:
    """"95% CI"; "95% CI over all looks" for an adaptive run's interval, whose per-look
    confidence (`confidence`, e.g. 98.75%) is what the run's looks together hold to
    `overall`."""
    shown = overall if overall is not None else confidence
    percent = 100 * shown
    text = (f"{percent:.0f}% CI" if abs(percent - round(percent)) < 1e-9
            else f"{percent:.1f}% CI")
    return text + (" over all looks" if overall is not None else "")


def _range(interval: tuple[float, float], label: str) -> str:
    # Three decimals where two would print a bound as 1.00 and hide which side of 1 it is.
    digits = 3 if any(round(bound, 2) == 1.0 for bound in interval) else 2
    return f"{label} {interval[0]:.{digits}f}–{interval[1]:.{digits}f}"


def compare(
    metric: str, first: str, first_samples: stats.Samples, second: str,
    second_samples: stats.Samples, *, rule: stopping.StoppingRule | None = None,
    seconds_per_round: float | None = None,
) -> Verdict:
    """first vs second: ratio of medians with its interval (paired over rounds where both
    were measured in two or more: `stats.ratio_ci`). With a stopping `rule` the verdict is
    the pair's first decisive look (`stopping.settle`), its interval labelled for what all
    looks hold together; `seconds_per_round` prices the rounds an undecided pair needs."""
    between = min(stats.processes(first_samples), stats.processes(second_samples)) >= 2
    ratio = stats.ratio(first_samples, second_samples)
    if rule is not None:
        found = stopping.settle(first_samples, second_samples, rule)
        if found.decision == stopping.CONTINUE:  # the run ended (or is still going) there
            found = replace(found, decision=stopping.UNDECIDED)
        if found.interval is not None:  # of the rounds the decision read, not later ones
            ratio = stats.ratio_of_rounds(first_samples, second_samples, found.rounds)
        verdict = _worded(metric, first, second, ratio, found, rule, seconds_per_round)
    else:
        # A fixed run: one interval at 95%, read as a look with no rule behind it.
        interval = stats.ratio_ci(first_samples, second_samples)
        significant = stats.is_significant(interval)
        found = stopping.Look(stopping.DIFFERENT if significant else stopping.UNDECIDED, 0,
                              interval, stats.CONFIDENCE)
        verdict = _worded(metric, first, second, ratio, found, None, None)
    return replace(verdict, between_processes=between) if verdict.interval else verdict


def _worded(metric: str, first: str, second: str, ratio: float, found: stopping.Look,
            rule: stopping.StoppingRule | None, seconds_per_round: float | None) -> Verdict:
    interval = found.interval
    # Decisions and rounds belong to an adaptive run's rule; a fixed run has neither.
    decision = found.decision if rule is not None else None
    rounds = found.rounds if rule is not None else None
    if interval is None:
        text = (f"{first} vs {second}: ratio {ratio:.2f}, no confidence interval with fewer "
                f"than 2 samples each (use --processes)")
        return Verdict(metric, first, second, ratio, None, False, text, decision=decision)
    label = confidence_label(found.confidence,
                             overall=rule.overall if rule is not None else None)
    if found.decision != stopping.DIFFERENT:
        if rule is None:
            text = f"no significant difference between {first} and {second} " \
                   f"({_range(interval, label)})"
        elif found.decision == stopping.EQUIVALENT:
            text = (f"no meaningful difference between {first} and {second}: within "
                    f"±{rule.equivalence:.0%} ({_range(interval, label)}, two one-sided "
                    f"tests)")
        else:
            needs = stopping.needs_text(found, seconds_per_round)
            text = (f"undecided between {first} and {second} after {found.rounds} rounds: "
                    f"neither a difference nor one within ±{rule.equivalence:.0%} shown "
                    f"({_range(interval, label)})" + (f"; {needs}" if needs else ""))
        return Verdict(metric, first, second, ratio, interval, False, text, decision=decision,
                       rounds=rounds, needed=found.needed)

    described = METRICS[metric]
    higher_is_better = described.higher_is_better
    # Always state the winner with a factor above 1.
    winner, loser, factor, low, high = first, second, ratio, interval[0], interval[1]
    if ratio < 1:
        winner, loser = second, first
        factor, low, high = 1 / ratio, 1 / interval[1], 1 / interval[0]
    if higher_is_better is False:  # the lower value wins
        winner, loser = loser, winner
    if higher_is_better is None:
        text = f"{winner}/{loser} = {factor:.2f}x ({_range((low, high), label)})"
    else:
        text = (f"{winner} {described.comparison.format(factor=f'{factor:.2f}')} {loser} "
                f"({_range((low, high), label)})")
    better = winner if higher_is_better is not None else None
    return Verdict(metric, first, second, ratio, interval, True, text, better=better,
                   decision=decision, rounds=rounds)


def not_comparable(
    metric: str, first: str, first_samples: stats.Samples, second: str,
    second_samples: stats.Samples, reason: str,
) -> Verdict:
    """A failed same-model check replaces the speed verdict: the numbers are not like for like."""
    ratio = stats.ratio(first_samples, second_samples)
    return Verdict(metric, first, second, ratio, None, False, f"not comparable: {reason}",
                   comparable=False)


def instability_flags(
    summary: stats.Summary,
    details: Sequence[dict[str, Any]],
    min_window_seconds: float,
    between_process_cv: float | None = None,
    *,
    windowed: bool = True,
) -> list[str]:
    """Why a cell's headline figure should not be trusted; empty when it can be.

    `windowed`: the samples are timed windows of steady state, so their spread, warm-up and
    length say something; latencies of single requests spread by nature.
    """
    flags = []
    if windowed and summary.cv > UNSTABLE_CV:
        flags.append(f"unstable: CV {summary.cv:.1%} > {UNSTABLE_CV:.0%}")
    if between_process_cv is not None and between_process_cv > UNSTABLE_CV:
        flags.append(f"processes disagree: CV of their medians "
                     f"{between_process_cv:.1%} > {UNSTABLE_CV:.0%}")
    if summary.n < MIN_SAMPLES:
        flags.append(f"too few samples ({summary.n} < {MIN_SAMPLES})")
    if any(d.get("warmup_capped") for d in details):
        flags.append("warm-up hit its cap before windows settled")
    resolution = max((float(d.get("clock_resolution", 0.0)) for d in details), default=0.0)
    if windowed and resolution and min_window_seconds < MIN_TICKS_PER_WINDOW * resolution:
        flags.append("windows near the timer's resolution")
    return flags
