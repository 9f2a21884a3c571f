from __future__ import annotations

from dlarena.analysis import stats
from dlarena.analysis.verdict import compare, instability_flags

# One worker process each: its windows, in order.
FAST = [[10.0, 10.1, 9.9, 10.05, 9.95]]
SLOW = [[5.0, 5.05, 4.95, 5.02, 4.98]]


def test_faster_framework_is_named_first_with_a_factor_above_one() -> None:
    verdict = compare("train_throughput", "torch", SLOW, "tensorflow", FAST)
    assert verdict.significant
    assert verdict.ratio == 0.5
    assert verdict.text.startswith("tensorflow is 2.00x faster than torch (95% CI 1.98–2.02)")


def test_overlapping_samples_give_no_significant_difference() -> None:
    verdict = compare("train_throughput", "a", [[10, 11, 9, 10.5, 9.5]], "b",
                      [[10.2, 9.8, 10.1, 9.9, 10.6]])
    assert not verdict.significant
    assert verdict.text == "no significant difference between a and b (95% CI 0.89–1.08)"


def test_less_is_better_metrics_name_the_lower_one() -> None:
    verdict = compare("peak_rss_bytes", "torch", SLOW, "tensorflow", FAST)
    assert verdict.text.startswith("torch uses 2.00x less memory than tensorflow (95% CI")


def test_single_samples_give_no_interval_and_say_why() -> None:
    verdict = compare("peak_rss_bytes", "a", [[1.0]], "b", [[2.0]])
    assert verdict.interval is None and not verdict.significant
    assert "fewer than 2 samples" in verdict.text


def test_flags_name_every_reason() -> None:
    noisy = stats.summarize([[1.0, 2.0]])
    flags = instability_flags(noisy, [{"warmup_capped": True, "clock_resolution": 1e-3}], 1.0)
    assert any(f.startswith("unstable: CV") for f in flags)
    assert "too few samples (2 < 3)" in flags
    assert "warm-up hit its cap before windows settled" in flags
    assert "windows near the timer's resolution" in flags


def test_steady_cell_has_no_flags() -> None:
    steady = stats.summarize(FAST)
    assert instability_flags(steady, [{"warmup_capped": False, "clock_resolution": 1e-9}], 0.1) == []


def test_bounds_near_one_get_a_third_decimal() -> None:
    first = [100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    second = [99.0, 99.5, 100.0, 100.5, 101.0, 99.8]
    verdict = compare("train_throughput", "a", [first], "b", [second])
    low, high = verdict.interval or (0.0, 0.0)
    assert verdict.text.endswith(f"(95% CI {low:.3f}–{high:.3f})")


def test_disagreeing_processes_are_flagged() -> None:
    steady = stats.summarize(FAST)
    flags = instability_flags(steady, [], 0.1, between_process_cv=0.2)
    assert flags == ["processes disagree: CV of their medians 20.0% > 5%"]
    assert instability_flags(steady, [], 0.1, between_process_cv=0.01) == []


def test_the_better_side_is_recorded() -> None:
    assert compare("train_throughput", "torch", SLOW, "tensorflow", FAST).better == "tensorflow"
    assert compare("peak_rss_bytes", "torch", SLOW, "tensorflow", FAST).better == "torch"
    assert compare("train_throughput", "a", [[10, 11, 9, 10.5, 9.5]], "b",
                   [[10.2, 9.8, 10.1, 9.9, 10.6]]).better is None


def test_every_directed_metric_says_how_its_winner_wins() -> None:
    from dlarena.analysis.metrics import METRICS

    for metric in METRICS.values():
        if metric.higher_is_better is not None:
            assert "{factor}" in metric.comparison, metric.name


def test_up_to_three_variants_every_pair_is_compared_beyond_ranked_neighbours() -> None:
    from dlarena.analysis.verdict import compared_pairs

    speed = {"a": 3.0, "b": 1.0, "c": 2.0, "d": 4.0}
    three = compared_pairs(["a", "b", "c"], speed.__getitem__, True)
    assert three == [("a", "b"), ("a", "c"), ("b", "c")]
    assert compared_pairs(list(speed), speed.__getitem__, True) == [
        ("d", "a"), ("a", "c"), ("c", "b")]
    # Lower is better (a cost): the cheapest first.
    assert compared_pairs(list(speed), speed.__getitem__, False) == [
        ("b", "c"), ("c", "a"), ("a", "d")]


def test_a_verdict_from_one_process_on_a_side_says_so() -> None:
    """One process's windows cannot show how processes differ: the verdict records it (the
    reports print ONE_PROCESS beside it); with two or more processes on both sides, not."""
    assert not compare("train_throughput", "torch", SLOW, "tensorflow", FAST).between_processes
    two_slow, two_fast = [*SLOW, [5.1, 5.0, 4.9]], [*FAST, [10.2, 10.0, 9.8]]
    assert not compare("train_throughput", "torch", two_slow, "tensorflow",
                       FAST).between_processes
    assert compare("train_throughput", "torch", two_slow, "tensorflow",
                   two_fast).between_processes


def test_a_fixed_run_s_verdict_carries_no_decision_or_rounds() -> None:
    """Decisions and rounds belong to an adaptive run's rule: JSON reports read null."""
    a = [[100.0, 101.0, 99.0], [102.0, 100.0, 101.0], [99.0, 100.0, 98.0]]
    b = [[80.0, 81.0, 79.0], [82.0, 80.0, 81.0], [79.0, 80.0, 78.0]]
    fixed = compare("train_throughput", "torch/eager", a, "tensorflow/function", b)
    assert fixed.significant and (fixed.decision, fixed.rounds, fixed.needed) == (None, None, None)
    from dlarena.analysis.stopping import StoppingRule

    adaptive = compare("train_throughput", "torch/eager", a, "tensorflow/function", b,
                       rule=StoppingRule())
    assert adaptive.decision == "different" and adaptive.rounds is not None
