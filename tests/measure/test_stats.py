from __future__ import annotations

import pytest

from dlarena.measure import stats


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
    summary = stats.summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (summary.n, summary.median, summary.mad) == (5, 3.0, 1.0)
    assert (summary.minimum, summary.maximum) == (1.0, 100.0)
    with pytest.raises(ValueError):
        stats.summarize([])


def test_between_process_spread() -> None:
    assert stats.between_process_cv([[1.0, 2.0]]) is None
    assert stats.between_process_cv([[10.0, 10.0], [10.0]]) == 0.0
    assert stats.between_process_cv([[9.0], [11.0]]) == pytest.approx(0.1414, abs=1e-4)
