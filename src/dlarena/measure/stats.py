"""Statistics as pure functions (coordinator side). Reports ask here; they never compute.

Bootstrap intervals use SciPy's percentile bootstrap with a fixed seed, so the same samples
always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 4000
_SEED = 20261123


def median(values: Sequence[float]) -> float:
    return float(np.median(np.asarray(values, dtype=float)))


def median_abs_dev(values: Sequence[float]) -> float:
    array = np.asarray(values, dtype=float)
    return float(np.median(np.abs(array - np.median(array))))


def percentile(values: Sequence[float], q: float) -> float:
    """q in [0, 100], linear interpolation (NumPy's default)."""
    return float(np.percentile(np.asarray(values, dtype=float), q))


def coefficient_of_variation(values: Sequence[float]) -> float:
    """Sample standard deviation over mean; 0 for fewer than two values."""
    array = np.asarray(values, dtype=float)
    if array.size < 2 or array.mean() == 0:
        return 0.0
    return float(array.std(ddof=1) / abs(array.mean()))


def _median_statistic(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.median(sample, axis=axis))


def _ratio_statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.asarray(np.median(a, axis=axis) / np.median(b, axis=axis))


def _bootstrap(data: tuple[np.ndarray, ...], statistic: object) -> tuple[float, float] | None:
    if any(sample.size < 2 for sample in data):
        return None
    from scipy.stats import bootstrap

    result = bootstrap(
        data, statistic, n_resamples=RESAMPLES, vectorized=True, paired=False,
        confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(_SEED),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):
        return None
    return low, high


def median_ci(values: Sequence[float]) -> tuple[float, float] | None:
    """95% bootstrap interval of the median; None with fewer than two values."""
    return _bootstrap((np.asarray(values, dtype=float),), _median_statistic)


def ratio_of_medians_ci(a: Sequence[float], b: Sequence[float]) -> tuple[float, float] | None:
    """95% bootstrap interval of median(a) / median(b), a and b resampled independently."""
    return _bootstrap(
        (np.asarray(a, dtype=float), np.asarray(b, dtype=float)), _ratio_statistic
    )


def is_significant(interval: tuple[float, float] | None, *, null: float = 1.0) -> bool:
    """A difference is significant when the interval exists and excludes the null value."""
    return interval is not None and not interval[0] <= null <= interval[1]


@dataclass(frozen=True)
class Summary:
    """Everything a report shows about one metric's samples."""

    n: int
    median: float
    mad: float
    cv: float
    minimum: float
    maximum: float
    ci: tuple[float, float] | None


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no samples to summarize")
    return Summary(
        n=len(values),
        median=median(values),
        mad=median_abs_dev(values),
        cv=coefficient_of_variation(values),
        minimum=float(min(values)),
        maximum=float(max(values)),
        ci=median_ci(values),
    )


def between_process_cv(per_process: Sequence[Sequence[float]]) -> float | None:
    """Spread of the per-process medians; None with a single process."""
    if len(per_process) < 2:
        return None
    return coefficient_of_variation([median(values) for values in per_process if values])
