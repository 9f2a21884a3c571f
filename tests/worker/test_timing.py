from __future__ import annotations

from collections.abc import Iterator

import pytest

from dlarena.cell import MeasureSettings
from dlarena.worker.timing import Window, measure, next_steps, settled


class FakeClock:
    """Each step advances time by the next value of `step_costs` (then the last one)."""

    def __init__(self, step_costs: list[float]) -> None:
        self.now = 0.0
        self._costs: Iterator[float] = iter(step_costs)
        self._last = step_costs[-1]
        self.syncs = 0
        self.steps = 0

    def __call__(self) -> float:
        return self.now

    def step(self) -> int:
        self.now += next(self._costs, self._last)
        self.steps += 1
        return self.steps

    def sync(self, value: object) -> None:
        self.syncs += 1


def settings(**changes: float) -> MeasureSettings:
    values = {"min_window_seconds": 0.1, "windows": 4, "max_warmup_windows": 5}
    values.update(changes)
    return MeasureSettings(**values)  # type: ignore[arg-type]


def test_first_step_is_timed_on_its_own_and_excluded() -> None:
    clock = FakeClock([2.0, 0.01])
    result = measure(clock.step, clock.sync, settings(), clock=clock)
    assert result.first_step_seconds == 2.0
    assert all(w.seconds_per_step == pytest.approx(0.01) for w in result.windows)


def test_calibration_reaches_the_minimum_window() -> None:
    clock = FakeClock([0.001])
    result = measure(clock.step, clock.sync, settings(), clock=clock)
    assert result.steps_per_window * 0.001 >= 0.1
    assert len(result.windows) == 4
    assert all(w.steps == result.steps_per_window for w in result.windows)


def test_device_is_synchronised_once_per_window() -> None:
    clock = FakeClock([0.05])
    result = measure(clock.step, clock.sync, settings(), clock=clock)
    windows = len(result.warmup) + len(result.windows)
    assert clock.syncs == windows + 1  # + the first step


def test_steady_steps_settle_without_hitting_the_cap() -> None:
    clock = FakeClock([0.02])
    result = measure(clock.step, clock.sync, settings(), clock=clock)
    assert not result.warmup_capped


def test_drifting_steps_hit_the_warmup_cap_and_say_so() -> None:
    # Every step is 30% slower than the one before: windows never agree.
    costs = [0.01 * 1.3**i for i in range(200)]
    clock = FakeClock(costs)
    result = measure(clock.step, clock.sync, settings(max_warmup_windows=2), clock=clock)
    assert result.warmup_capped


def test_settled_needs_enough_windows_within_tolerance() -> None:
    config = settings()
    assert config.settle_windows == 2
    assert not settled([Window(10, 1.0)], config)
    assert settled([Window(10, 1.0), Window(10, 1.05)], config)
    assert not settled([Window(10, 1.2), Window(10, 1.0)], config)
    assert settled([Window(10, 1.2), Window(10, 1.0), Window(10, 1.02)], config)
    three = settings(settle_windows=3)
    assert not settled([Window(10, 1.0), Window(10, 1.0)], three)
    assert not settled([Window(10, 1.0), Window(10, 1.2), Window(10, 1.0)], three)


def test_warmup_adds_at_least_one_window_to_the_calibrated_one() -> None:
    clock = FakeClock([0.001])
    result = measure(clock.step, clock.sync, settings(start_steps=120), clock=clock)
    assert len(result.warmup) == 2 and not result.warmup_capped


def test_next_steps_grows_at_least_double_and_at_most_a_hundredfold() -> None:
    assert next_steps(Window(1, 0.001), 0.1) == 100  # capped at 100x
    assert next_steps(Window(10, 0.09), 0.1) == 20  # needs 14, doubles instead
    assert next_steps(Window(10, 0.01), 0.1) == 120  # 1.2 * 0.1 s / 1 ms per step


class AsyncClock:
    """A device that queues work: a step costs nothing until `sync` waits for it, as CUDA
    kernels do. A window that read the clock before syncing would measure nothing."""

    def __init__(self, cost: float) -> None:
        self.now, self.cost, self.queued = 0.0, cost, 0

    def __call__(self) -> float:
        return self.now

    def step(self) -> int:
        self.queued += 1
        return self.queued

    def sync(self, value: object) -> None:
        self.now += self.queued * self.cost
        self.queued = 0


def test_every_window_waits_for_the_device_before_reading_the_clock() -> None:
    clock = AsyncClock(0.01)
    result = measure(clock.step, clock.sync, settings(), clock=clock)
    assert all(w.seconds_per_step == pytest.approx(0.01) for w in result.windows)
    assert result.first_step_seconds == pytest.approx(0.01)


def test_calibration_starts_from_the_steps_it_is_given() -> None:
    """A cell's later process starts at its first process's window size: no window searches."""
    clock = FakeClock([0.001])
    result = measure(clock.step, clock.sync, settings(start_steps=120), clock=clock)
    assert result.calibration_windows == 0 and result.calibration_seconds == 0
    assert {w.steps for w in (*result.warmup, *result.windows)} == {120}
    assert result.warmup_seconds == pytest.approx(0.12 * len(result.warmup))


def test_a_start_too_small_for_this_process_still_grows_to_the_minimum_window() -> None:
    clock = FakeClock([0.001])
    result = measure(clock.step, clock.sync, settings(start_steps=10), clock=clock)
    assert result.calibration_windows >= 1 and result.steps_per_window * 0.001 >= 0.1
    assert result.calibration_seconds == pytest.approx(
        sum(w.seconds for w in result.warmup[:result.calibration_windows]))
    assert result.measure_seconds == pytest.approx(4 * result.steps_per_window * 0.001)
