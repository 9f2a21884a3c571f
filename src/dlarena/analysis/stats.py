"""Statistics as pure functions (coordinator side). Reports ask here; they never compute.

A cell's samples are windows grouped by worker process. Windows of one process are not
independent (the machine drifts over seconds and minutes) and processes differ from each
other, so a cell's interval comes from a hierarchical bootstrap: resample the processes,
then blocks of consecutive windows within each (`resampled_medians`). Treating every window
as an independent draw (`ratio_of_medians_ci`, kept for single series such as the harness
benchmark) gives intervals that are too narrow when processes disagree.

Every bootstrap uses a fixed seed, so the same samples always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 4000
_SEED = 20261123

# Windows of each worker process, in the order they were timed.
Samples = Sequence[Sequence[float]]


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
    """95% bootstrap interval of the median of independent values; None with fewer than two."""
    return _bootstrap((np.asarray(values, dtype=float),), _median_statistic)


def ratio_of_medians_ci(a: Sequence[float], b: Sequence[float]) -> tuple[float, float] | None:
    """95% bootstrap interval of median(a) / median(b), every value an independent draw."""
    return _bootstrap(
        (np.asarray(a, dtype=float), np.asarray(b, dtype=float)), _ratio_statistic
    )


def block_length(windows: int) -> int:
    """Consecutive windows resampled together: n^(1/3), the usual rate for a block bootstrap,
    so neighbouring windows' correlation stays inside a block (1 = plain bootstrap)."""
    root: float = windows ** (1 / 3)
    return max(1, round(root))


def _circular_blocks(values: np.ndarray, rng: np.random.Generator, resamples: int
                     ) -> np.ndarray:
    """`resamples` circular block-bootstrap resamples of one process's windows, (R, n)."""
    n = values.size
    length = block_length(n)
    blocks = -(-n // length)
    starts = rng.integers(0, n, size=(resamples, blocks, 1))
    index = ((starts + np.arange(length)) % n).reshape(resamples, blocks * length)[:, :n]
    return np.asarray(values[index])


def _window_resamples(groups: Sequence[np.ndarray], rng: np.random.Generator, resamples: int
                      ) -> np.ndarray:
    """Each process's windows block-bootstrapped `resamples` times: (processes, R, longest),
    NaN-padded where a process has fewer windows than the longest."""
    longest = max(group.size for group in groups)
    inner = np.full((len(groups), resamples, longest), np.nan)
    for index, group in enumerate(groups):
        inner[index, :, :group.size] = _circular_blocks(group, rng, resamples)
    return inner


def _drawn_processes(processes: int, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Which processes each resample draws, with replacement (one process: that one)."""
    if processes == 1:
        return np.zeros((resamples, 1), dtype=int)
    return rng.integers(0, processes, size=(resamples, processes))


def _medians_of(inner: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    resamples = chosen.shape[0]
    drawn = inner[chosen, np.arange(resamples)[:, None], :]  # (R, processes, windows)
    return np.asarray(np.nanmedian(drawn.reshape(resamples, -1), axis=1))


def _arrays(per_process: Samples) -> list[np.ndarray]:
    return [np.asarray(values, dtype=float) for values in per_process if len(values)]


def resampled_medians(per_process: Samples, *, resamples: int = RESAMPLES,
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """Medians of hierarchical bootstrap resamples: draw as many processes as there are, with
    replacement (one process: that one), then each drawn process's windows by a circular
    block bootstrap, and take the median of everything drawn."""
    rng = rng if rng is not None else np.random.default_rng(_SEED)
    groups = _arrays(per_process)
    if not groups:
        raise ValueError("no samples to resample")
    inner = _window_resamples(groups, rng, resamples)
    return _medians_of(inner, _drawn_processes(len(groups), rng, resamples))


def _percentile_interval(statistics: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(statistics, [tail, 100 - tail])
    return float(low), float(high)


def _enough(per_process: Samples) -> bool:
    return sum(len(values) for values in per_process) >= 2


def processes(per_process: Samples) -> int:
    return sum(1 for values in per_process if len(values))


def _positive(*cells: Samples) -> bool:
    return all(value > 0 for cell in cells for value in pooled(cell))


def _log_standard_error(per_process: Samples, rng: np.random.Generator) -> float:
    """Bootstrap standard error of log(median) over processes, widened by sqrt(k / (k - 1)):
    resampling k processes gives (k - 1) / k of the unbiased between-process variance."""
    logs = np.log(resampled_medians(per_process, rng=rng))
    k = processes(per_process)
    return float(logs.std(ddof=1) * math.sqrt(k / (k - 1)))


@cache
def _t_quantile(confidence: float, df: float) -> float:
    from scipy.stats import t

    return float(t.ppf(1 - (1 - confidence) / 2, df))


def hierarchical_median_ci(per_process: Samples, *, confidence: float = CONFIDENCE
                           ) -> tuple[float, float] | None:
    """Interval of a cell's median; None with fewer than two values in all.

    One process: percentile interval of a block bootstrap of its windows. Several: the
    percentile bootstrap over a handful of processes treats them as the whole population and
    undercovers, so the interval is log(median) ± t(k - 1) x the hierarchical bootstrap's
    standard error (see `hierarchical_ratio_ci`).
    """
    if not _enough(per_process):
        return None
    k = processes(per_process)
    if k < 2 or not _positive(per_process):
        return _percentile_interval(resampled_medians(per_process), confidence)
    estimate = math.log(median(pooled(per_process)))
    half = _t_quantile(confidence, k - 1) * _log_standard_error(
        per_process, np.random.default_rng(_SEED))
    return math.exp(estimate - half), math.exp(estimate + half)


def hierarchical_ratio_ci(a: Samples, b: Samples, *, confidence: float = CONFIDENCE
                          ) -> tuple[float, float] | None:
    """Interval of median(a) / median(b); None when either side has fewer than two values.

    With one process on a side, the percentile interval of independent hierarchical (here:
    block) bootstraps of each side. With several on both: log ratio ± t(ka + kb - 2) x the
    bootstrap standard errors combined, each from resampling processes, then blocks of
    windows. Simulated on this machine's kind of drift (processes ±3%, windows ±0.5%), a plain
    percentile interval over 2-4 processes called 23% of identical pairs different at a
    nominal 5%; this one stays below it (tests/analysis/test_stopping.py).
    """
    if not (_enough(a) and _enough(b)):
        return None
    rng = np.random.default_rng(_SEED)
    ka, kb = processes(a), processes(b)
    if min(ka, kb) < 2 or not _positive(a, b):
        ratios = resampled_medians(a, rng=rng) / resampled_medians(b, rng=rng)
        return _percentile_interval(ratios, confidence)
    estimate = math.log(median(pooled(a)) / median(pooled(b)))
    error_a, error_b = _log_standard_error(a, rng), _log_standard_error(b, rng)
    half = _t_quantile(confidence, ka + kb - 2) * math.hypot(error_a, error_b)
    return math.exp(estimate - half), math.exp(estimate + half)


def paired_rounds(a: Samples, b: Samples) -> list[int]:
    """The process indices measured on both sides: the rounds a pair can be compared in."""
    return [index for index in range(min(len(a), len(b))) if len(a[index]) and len(b[index])]


def round_log_ratios(a: Samples, b: Samples) -> np.ndarray:
    """log(median a / median b) of each round both sides were measured in: the medians of the
    two processes of one round, over their windows. Empty when a value is not positive."""
    rounds = paired_rounds(a, b)
    first, second = [a[i] for i in rounds], [b[i] for i in rounds]
    if not _positive(first, second):
        return np.zeros(0)
    return np.array([math.log(median(x) / median(y)) for x, y in zip(first, second, strict=True)])


def log_mean_interval(logs: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """mean ± t(k - 1) x standard error of k independent log ratios, as a ratio interval;
    None with fewer than two. A pair's own rounds only: a pair never borrows another
    workload's noise (a quiet model judged with noisy ones' variance, or the reverse, is
    miscalibrated: tests/analysis/test_calibration.py)."""
    k = logs.size
    if k < 2:
        return None
    half = _t_quantile(confidence, k - 1) * float(logs.std(ddof=1)) / math.sqrt(k)
    estimate = float(logs.mean())
    return math.exp(estimate - half), math.exp(estimate + half)


def paired_ratio_ci(a: Samples, b: Samples, *, confidence: float = CONFIDENCE
                    ) -> tuple[float, float] | None:
    """Interval of the geometric mean of the ratios of the rounds both sides were measured in;
    None with fewer than two such rounds or a value that is not positive.

    Each round runs both frameworks' processes back to back, in an order rotated each round,
    so the machine's drift between minutes, which moves both processes of a round alike,
    cancels in each round's ratio, and no framework always runs first. The rounds' log ratios are
    independent draws (each round its own fresh processes), so the interval is their mean ±
    t x standard error: a paired t interval on log ratios with k - 1 degrees of freedom (k
    rounds). Each round's ratio is of the processes' medians, so its spread already holds
    the windows' noise: resampling windows as well would count it twice (Ren et al. 2010,
    "Nonparametric bootstrapping for hierarchical data"), and a ratio of medians pooled over
    rounds would let one side's median come from a fast round and the other's from a slow
    one, undoing the pairing. On `make run`'s NCF cells (processes of one round 30% slower
    than the next for all three frameworks) the standard error of the log ratio is
    0.02-0.03 paired, 0.09-0.11 not.
    """
    return log_mean_interval(round_log_ratios(a, b), confidence)


def ratio(a: Samples, b: Samples) -> float:
    """The ratio a verdict states: the geometric mean of the rounds' ratios of medians where
    both sides have two or more rounds (`round_log_ratios`), else the ratio of the pooled
    medians."""
    logs = round_log_ratios(a, b)
    if logs.size >= 2:
        return float(math.exp(logs.mean()))
    return median(pooled(a)) / median(pooled(b))


def ratio_of_rounds(a: Samples, b: Samples, rounds: int) -> float:
    """The geometric mean of the first `rounds` paired rounds' ratios (a decisive look's)."""
    return float(math.exp(round_log_ratios(a, b)[:rounds].mean()))


def ratio_ci(a: Samples, b: Samples, *, confidence: float = CONFIDENCE
             ) -> tuple[float, float] | None:
    """The interval a verdict uses: paired over rounds where both sides have two or more
    (`paired_ratio_ci`), else the unpaired hierarchical one (`hierarchical_ratio_ci`)."""
    paired = paired_ratio_ci(a, b, confidence=confidence)
    if paired is not None:
        return paired
    return hierarchical_ratio_ci(a, b, confidence=confidence)


def scaling_efficiency(n_ranks: Samples, one_rank: Samples, ranks: int, *,
                       confidence: float = CONFIDENCE
                       ) -> tuple[float, tuple[float, float] | None]:
    """Throughput at `ranks` ranks over `ranks` x at one rank, and its interval: the ratio's
    (`ratio`, `ratio_ci`, paired over rounds where both have two or more) divided by N."""
    interval = ratio_ci(n_ranks, one_rank, confidence=confidence)
    return (ratio(n_ranks, one_rank) / ranks,
            None if interval is None else (interval[0] / ranks, interval[1] / ranks))


# The most rounds `rounds_needed` considers: beyond, a pair is out of any budget's reach.
MOST_ROUNDS = 1000


def rounds_needed(logs: np.ndarray, *, confidence: float, equivalence_confidence: float,
                  margin: float, most: int = MOST_ROUNDS) -> int | None:
    """About how many rounds a pair whose rounds' log ratios are `logs` needs before its
    interval excludes 1 (at `confidence`) or lies within ±`margin` (at
    `equivalence_confidence`), were its mean and spread to stay as measured; None when more
    than `most` (or unknowable from fewer than two rounds). A plug-in estimate: it says what
    a budget would buy, it decides nothing."""
    if logs.size < 2:
        return None
    mean, spread = abs(float(logs.mean())), float(logs.std(ddof=1))
    bound = math.log1p(margin)

    def decides(rounds: int) -> bool:
        error = spread / math.sqrt(rounds)
        return (_t_quantile(confidence, rounds - 1) * error < mean
                or mean + _t_quantile(equivalence_confidence, rounds - 1) * error < bound)

    # Both half widths shrink as rounds grow: the first count that decides, by bisection.
    low, high = max(2, logs.size), most
    if not decides(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if decides(middle):
            high = middle
        else:
            low = middle + 1
    return low


def pooled(per_process: Samples) -> list[float]:
    return [float(value) for values in per_process for value in values]


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


def summarize(per_process: Samples) -> Summary:
    """Median, spread and the hierarchical interval of one metric's samples."""
    values = pooled(per_process)
    if not values:
        raise ValueError("no samples to summarize")
    return Summary(
        n=len(values),
        median=median(values),
        mad=median_abs_dev(values),
        cv=coefficient_of_variation(values),
        minimum=float(min(values)),
        maximum=float(max(values)),
        ci=hierarchical_median_ci(per_process),
    )


def between_process_cv(per_process: Sequence[Sequence[float]]) -> float | None:
    """Spread of the per-process medians; None with a single process."""
    if len(per_process) < 2:
        return None
    return coefficient_of_variation([median(values) for values in per_process if values])
