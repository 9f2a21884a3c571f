from __future__ import annotations

import math

import numpy as np
import pytest

from dlarena.analysis import stats


def test_median_odd_and_even() -> None:
    assert stats.median([3, 1, 2]) == 2
    assert stats.median([1, 2, 3, 4]) == 2.5


def test_median_absolute_deviation_ignores_one_outlier() -> None:
    assert stats.median_abs_dev([1, 2, 3, 4, 100]) == 1


def test_percentile_interpolates_linearly() -> None:
    assert stats.percentile([1, 2, 3, 4, 5], 90) == pytest.approx(4.6)
    assert stats.percentile([1, 2, 3, 4, 5], 50) == 3


def test_coefficient_of_variation_uses_the_sample_deviation() -> None:
    # mean 5, sample standard deviation sqrt(32 / 7)
    assert stats.coefficient_of_variation([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(0.4276, abs=1e-4)
    assert stats.coefficient_of_variation([7]) == 0.0


def test_median_interval_of_one_to_ten() -> None:
    assert stats.median_ci(list(range(1, 11))) == (3.0, 8.0)


def test_median_interval_of_identical_values_is_that_value() -> None:
    assert stats.median_ci([5, 5, 5, 5]) == (5.0, 5.0)


def test_no_interval_from_a_single_value() -> None:
    assert stats.median_ci([5.0]) is None
    assert stats.ratio_of_medians_ci([1.0], [1.0, 2.0]) is None


def test_ratio_interval_of_clearly_different_samples_excludes_one() -> None:
    interval = stats.ratio_of_medians_ci([10, 10.1, 9.9, 10.05, 9.95], [5, 5.05, 4.95, 5.02, 4.98])
    assert interval == pytest.approx((1.9721, 2.0281), abs=1e-4)
    assert stats.is_significant(interval)


def test_ratio_interval_of_overlapping_samples_includes_one() -> None:
    interval = stats.ratio_of_medians_ci([10, 11, 9, 10.5, 9.5], [10.2, 9.8, 10.1, 9.9, 10.6])
    assert interval == pytest.approx((0.8911, 1.0891), abs=1e-4)
    assert not stats.is_significant(interval)


def test_bootstrap_is_deterministic() -> None:
    values = [3.1, 2.9, 3.3, 3.0, 2.7, 3.2]
    assert stats.median_ci(values) == stats.median_ci(values)


def test_is_significant_without_interval_is_false() -> None:
    assert not stats.is_significant(None)


def test_summary_fields() -> None:
    summary = stats.summarize([[1.0, 2.0], [3.0, 4.0, 100.0]])
    assert (summary.n, summary.median, summary.mad) == (5, 3.0, 1.0)
    assert (summary.minimum, summary.maximum) == (1.0, 100.0)
    with pytest.raises(ValueError):
        stats.summarize([[]])


def test_between_process_spread() -> None:
    assert stats.between_process_cv([[1.0, 2.0]]) is None
    assert stats.between_process_cv([[10.0, 10.0], [10.0]]) == 0.0
    assert stats.between_process_cv([[9.0], [11.0]]) == pytest.approx(0.1414, abs=1e-4)


def test_block_length_grows_with_the_cube_root() -> None:
    assert [stats.block_length(n) for n in (1, 3, 4, 10, 27, 64)] == [1, 1, 2, 2, 3, 4]


def _reference_medians(per_process: list[list[float]], resamples: int, seed: int) -> np.ndarray:
    """The same two-stage bootstrap written plainly, one loop per resample: processes with
    replacement, then circular blocks of each drawn process's windows."""
    rng = np.random.default_rng(seed)
    medians = np.empty(resamples)
    for r in range(resamples):
        drawn: list[float] = []
        picks = rng.integers(0, len(per_process), size=len(per_process))
        for p in (picks if len(per_process) > 1 else [0]):
            windows = per_process[p]
            n, length = len(windows), stats.block_length(len(windows))
            series: list[float] = []
            while len(series) < n:
                start = int(rng.integers(0, n))
                series += [windows[(start + i) % n] for i in range(length)]
            drawn += series[:n]
        medians[r] = np.median(drawn)
    return medians


def test_hierarchical_resampling_agrees_with_a_plain_reference() -> None:
    rng = np.random.default_rng(7)
    cell = [list(rng.normal(mean, 0.5, size=8)) for mean in (100.0, 104.0, 97.0, 101.0)]
    ours = stats.resampled_medians(cell)
    reference = _reference_medians(cell, 8000, seed=11)
    for q in (2.5, 25, 50, 75, 97.5):
        assert np.percentile(ours, q) == pytest.approx(np.percentile(reference, q), abs=0.4)
    assert np.std(ours) == pytest.approx(np.std(reference), rel=0.1)


def test_several_processes_give_a_t_interval_on_the_bootstrap_error() -> None:
    """log(median) ± t(k-1) x sd(log resampled medians) x sqrt(k/(k-1)), written out."""
    from scipy.stats import t

    rng = np.random.default_rng(7)
    cell = [list(rng.normal(mean, 0.5, size=8)) for mean in (100.0, 104.0, 97.0, 101.0)]
    logs = np.log(stats.resampled_medians(cell))
    half = t.ppf(0.975, 3) * logs.std(ddof=1) * np.sqrt(4 / 3)
    centre = np.log(np.median(stats.pooled(cell)))
    low, high = stats.hierarchical_median_ci(cell) or (0.0, 0.0)
    assert (low, high) == pytest.approx((np.exp(centre - half), np.exp(centre + half)))
    # Four processes 7 apart: the interval spans them, not the 0.5 noise of the windows.
    assert high - low > 4


def test_pooling_disagreeing_processes_claims_a_difference_that_is_not_there() -> None:
    """Both frameworks run at about 100 on average, but each worker process lands somewhere
    between 95 and 106 (this machine drifts between minutes) while its windows agree to 0.2%:
    pooled, the windows look like 24 independent draws and the interval excludes 1."""
    rng = np.random.default_rng(3)

    def cell(process_means: list[float]) -> list[list[float]]:
        return [list(rng.normal(mean, 0.2, size=6)) for mean in process_means]

    first, second = cell([101.0, 101.5, 102.0, 95.0]), cell([99.0, 99.5, 100.0, 106.0])
    pooled = stats.ratio_of_medians_ci(stats.pooled(first), stats.pooled(second))
    hierarchical = stats.hierarchical_ratio_ci(first, second)
    assert stats.is_significant(pooled)
    assert not stats.is_significant(hierarchical)
    assert hierarchical is not None and pooled is not None
    assert hierarchical[1] - hierarchical[0] > 2 * (pooled[1] - pooled[0])


def test_hierarchical_intervals_need_two_values() -> None:
    assert stats.hierarchical_median_ci([[5.0]]) is None
    low, high = stats.hierarchical_median_ci([[5.0], [6.0]]) or (0.0, 0.0)
    assert low < 5.0 and high > 6.0  # two processes say little about a third
    assert stats.hierarchical_ratio_ci([[1.0]], [[1.0, 2.0]]) is None


def test_a_higher_confidence_gives_a_wider_interval() -> None:
    cell = [[10.0, 10.4, 9.8, 10.1, 9.7, 10.2]]
    narrow = stats.hierarchical_median_ci(cell) or (0.0, 0.0)
    wide = stats.hierarchical_median_ci(cell, confidence=0.99) or (0.0, 0.0)
    assert wide[0] <= narrow[0] and wide[1] >= narrow[1]


def test_the_paired_interval_is_a_t_interval_on_the_rounds_log_ratios() -> None:
    """Written out in plain NumPy: each round's log ratio of the two processes' medians,
    their mean ± t(k-1) x sd / sqrt(k), whatever other pairs a run holds."""
    from scipy.stats import t

    rng = np.random.default_rng(21)
    a = [list(rng.normal(mean, 1.0, size=5)) for mean in (120.0, 90.0, 110.0, 131.0)]
    b = [list(rng.normal(mean, 1.0, size=5)) for mean in (100.0, 76.0, 93.0, 108.0)]
    logs = np.array([np.log(np.median(x) / np.median(y)) for x, y in zip(a, b, strict=True)])
    half = t.ppf(0.975, 3) * logs.std(ddof=1) / 2
    assert stats.paired_ratio_ci(a, b) == pytest.approx(
        (np.exp(logs.mean() - half), np.exp(logs.mean() + half)))
    assert stats.ratio(a, b) == pytest.approx(np.exp(logs.mean()))
    half = t.ppf(0.99, 3) * logs.std(ddof=1) / 2
    assert stats.paired_ratio_ci(a, b, confidence=0.98) == pytest.approx(
        (np.exp(logs.mean() - half), np.exp(logs.mean() + half)))
    assert stats.ratio_of_rounds(a, b, 2) == pytest.approx(np.exp(logs[:2].mean()))
    # A round measured on one side only is left out of the pairing.
    assert stats.paired_rounds([*a, [1.0]], [*b[:3], [], [2.0]]) == [0, 1, 2, 4]


def test_pairing_rounds_removes_the_machine_s_drift_from_the_interval() -> None:
    """The first framework is 10% faster in every round, but the machine moves both
    processes of a round by up to 30%: resampling each side's processes apart, the drift
    fills the interval and it holds 1; paired by round, the difference is shown."""
    rng = np.random.default_rng(8)
    machine = [1.0, 0.7, 0.9, 1.15, 0.8]
    a = [list(110 * level * (1 + rng.normal(0, 0.01, size=3))) for level in machine]
    b = [list(100 * level * (1 + rng.normal(0, 0.01, size=3))) for level in machine]
    unpaired = stats.hierarchical_ratio_ci(a, b)
    paired = stats.paired_ratio_ci(a, b)
    assert unpaired is not None and paired is not None
    assert not stats.is_significant(unpaired) and stats.is_significant(paired)
    assert 1.05 < paired[0] < 1.1 < paired[1] < 1.15
    assert stats.ratio_ci(a, b) == paired  # what verdicts use


def test_rounds_needed_is_the_first_count_whose_interval_would_decide() -> None:
    """Written out: at n rounds the interval's half width is t(n - 1) x sd / sqrt(n); a pair
    whose mean log ratio stays 0.1 with sd 0.1 needs the first n with that below 0.1 (at
    98.75%); one whose mean is 0 needs the first n with t(n - 1, 97.5%) x sd / sqrt(n)
    below log(1.05) for equivalence."""
    from scipy.stats import t

    def first(bound: float, confidence: float, sd: float) -> int:
        return next(n for n in range(2, 10_000)
                    if t.ppf(1 - (1 - confidence) / 2, n - 1) * sd / math.sqrt(n) < bound)

    apart = np.array([0.0, 0.2, 0.1, 0.0, 0.2])  # mean 0.1, sd 0.1
    assert stats.rounds_needed(apart, confidence=0.9875, equivalence_confidence=0.975,
                               margin=0.05) == first(0.1, 0.9875, 0.1)
    level = np.array([-0.1, 0.1, 0.0, -0.05, 0.05])
    sd = float(level.std(ddof=1))
    assert stats.rounds_needed(level, confidence=0.9875, equivalence_confidence=0.975,
                               margin=0.05) == first(math.log(1.05), 0.975, sd)
    # No difference at all and no margin: neither claim is ever reachable; one round says
    # nothing.
    tie = np.array([-0.05, 0.05, 0.0])
    assert stats.rounds_needed(tie, confidence=0.9875, equivalence_confidence=0.975,
                               margin=0.0, most=200) is None
    assert stats.rounds_needed(np.array([0.1]), confidence=0.9875,
                               equivalence_confidence=0.975, margin=0.05) is None


def test_scaling_efficiency_is_the_paired_ratio_over_the_ranks() -> None:
    from dlarena.analysis import stats as statistics

    one = [[100.0, 101.0], [130.0, 129.0], [90.0, 91.0]]
    two = [[150.0, 151.0], [195.0, 194.0], [135.0, 136.0]]  # 1.5x one rank, round by round
    efficiency, interval = statistics.scaling_efficiency(two, one, 2)
    assert efficiency == pytest.approx(0.75, rel=0.01)
    assert interval is not None and interval[0] < 0.75 < interval[1]
    assert interval[1] - interval[0] < 0.05  # the rounds' drift cancels in the pairing
