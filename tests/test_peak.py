"""The matrix-product ceiling: measured per library in its own process, the best one kept."""

from __future__ import annotations

import sys

from dlarena import environment
from dlarena.peak import best_gflops


def test_best_gflops_counts_two_size_cubed_over_the_fastest_product() -> None:
    calls: list[int] = []
    gflops = best_gflops(lambda: calls.append(1), lambda _: None, size=1000, seconds=0.0)
    assert len(calls) == 2  # a warm-up, then at least one timed product
    assert gflops > 2.0  # 2e9 FLOPs in far less than a second


def test_each_library_is_measured_in_its_own_process_and_the_best_is_the_ceiling() -> None:
    peaks = environment.matmul_peaks({"fake": sys.executable}, threads=1)
    assert set(peaks) == {"numpy", "fake"}
    assert all(isinstance(value, float) and value > 0 for value in peaks.values())
    assert environment.ceiling(peaks) == max(v for v in peaks.values() if isinstance(v, float))


def test_a_library_that_cannot_be_measured_is_named_not_fatal() -> None:
    peaks = environment.matmul_peaks({"nosuchframework": sys.executable}, threads=1)
    assert isinstance(peaks["nosuchframework"], str)
    assert peaks["nosuchframework"].startswith("failed: ")
    assert environment.ceiling(peaks) == peaks["numpy"]
    assert environment.ceiling({"torch": "failed: ImportError"}) is None
