"""The matrix-product ceiling: measured per library in its own process, the best one kept."""

from __future__ import annotations

import sys

from dlarena.cell import ThreadSettings
from dlarena.engine.environment import best_peak as ceiling
from dlarena.engine.environment import matmul_peaks
from dlarena.worker.peak import best_gflops


def test_best_gflops_counts_two_size_cubed_over_the_fastest_product() -> None:
    import time

    calls: list[int] = []

    def product() -> None:  # a "product" that takes at least 10 ms
        calls.append(1)
        time.sleep(0.01)

    gflops = best_gflops(product, lambda _: None, size=1000, seconds=0.0)
    assert len(calls) == 2  # a warm-up, then one timed product
    # 2e9 FLOPs in >= 10 ms is at most 200 GFLOP/s; a slow sleep makes it less, not zero
    assert 20 < gflops <= 200


def test_each_library_is_measured_in_its_own_process_and_the_best_is_the_ceiling() -> None:
    peaks = matmul_peaks({"fake": sys.executable}, threads=ThreadSettings(1, 1))
    assert set(peaks) == {"numpy", "fake"}
    assert all(isinstance(value, float) and value > 0 for value in peaks.values())
    assert ceiling(peaks) == max(v for v in peaks.values() if isinstance(v, float))


def test_a_library_that_cannot_be_measured_is_named_not_fatal() -> None:
    peaks = matmul_peaks({"nosuchframework": sys.executable}, threads=ThreadSettings(1, 1))
    assert isinstance(peaks["nosuchframework"], str)
    assert peaks["nosuchframework"].startswith("failed: ")
    assert ceiling(peaks) == peaks["numpy"]
    assert ceiling({"torch": "failed: ImportError"}) is None
