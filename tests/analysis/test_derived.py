from __future__ import annotations

from dlarena.analysis.derived import Crossover, break_even_steps, crossovers, gflops, leaders


def test_break_even_counts_the_steps_that_repay_start_up() -> None:
    # 10 s more to start, 0.1 s per step instead of 0.2 s: repaid after 100 steps
    assert break_even_steps(10.0, 0.2, 0.1) == 100
    assert break_even_steps(10.0, 0.2, 0.15) == 200
    assert break_even_steps(-1.0, 0.2, 0.3) == 0.0  # starts faster: nothing to repay
    assert break_even_steps(10.0, 0.2, 0.2) is None  # never repays
    assert break_even_steps(10.0, 0.2, 0.3) is None


def test_leaders_and_crossovers() -> None:
    series = {"torch": {1: 100.0, 8: 500.0, 64: 900.0},
              "tensorflow": {1: 50.0, 8: 520.0, 64: 1200.0}}
    assert leaders(series, higher_is_better=True) == {1: "torch", 8: "tensorflow",
                                                       64: "tensorflow"}
    assert crossovers(series, higher_is_better=True) == [Crossover(1, 8, "torch", "tensorflow")]
    assert crossovers(series, higher_is_better=False) == [Crossover(1, 8, "tensorflow", "torch")]
    assert crossovers({"a": {1: 1.0}}, higher_is_better=True) == []


def test_gflops_turn_tokens_into_samples_before_counting_flops() -> None:
    # 1,000 tokens/s of 100-token sequences = 10 sequences/s; 2 GFLOP each = 20 GFLOP/s
    assert gflops(1000.0, 100, 2_000_000_000) == 20.0
    assert gflops(256.0, 1, 10**9) == 256.0
