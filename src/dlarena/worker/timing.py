"""Calibrated timed windows, as an explicit sequence of phases (pyperf's manager is the model).

first step -> calibrate (grow steps per window until a window lasts `min_window_seconds`,
from `MeasureSettings.start_steps`: a later process of a cell starts where the first one
ended) -> warm-up (same-size windows until the last few agree, or the cap) -> measure (N
windows).
The device is synchronised at the end of every window, before the clock is read. Standard
library only: this runs inside the worker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dlarena.cell import MeasureSettings

Step = Callable[[], Any]
Sync = Callable[[Any], None]
Clock = Callable[[], float]
Progress = Callable[[str, int, int], None]

# Calibration grows a window by at most this factor per try, so one slow step cannot
# make the next window enormous.
_MAX_GROWTH = 100


@dataclass(frozen=True)
class Window:
    steps: int
    seconds: float

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps


@dataclass(frozen=True)
class TimingResult:
    first_step_seconds: float
    steps_per_window: int
    warmup: tuple[Window, ...]
    windows: tuple[Window, ...]
    # True when warm-up stopped at its cap before windows settled.
    warmup_capped: bool
    # How many of `warmup`'s first windows only searched for the window size (calibration).
    calibration_windows: int = 0

    @property
    def calibration_seconds(self) -> float:
        return sum(w.seconds for w in self.warmup[:self.calibration_windows])

    @property
    def warmup_seconds(self) -> float:
        return sum(w.seconds for w in self.warmup[self.calibration_windows:])

    @property
    def measure_seconds(self) -> float:
        return sum(w.seconds for w in self.windows)


def time_window(step: Step, sync: Sync, steps: int, clock: Clock) -> Window:
    start = clock()
    value = None
    for _ in range(steps):
        value = step()
    sync(value)
    return Window(steps, clock() - start)


def settled(windows: list[Window], settings: MeasureSettings) -> bool:
    """The last `settle_windows` windows' per-step times lie within `settle_tolerance`."""
    if len(windows) < settings.settle_windows:
        return False
    recent = [w.seconds_per_step for w in windows[-settings.settle_windows :]]
    return (max(recent) - min(recent)) <= settings.settle_tolerance * min(recent)


def next_steps(window: Window, target_seconds: float) -> int:
    """Steps for the next calibration window: enough for the target, at least double."""
    per_step = max(window.seconds_per_step, 1e-9)
    wanted = math.ceil(1.2 * target_seconds / per_step)
    return min(max(wanted, 2 * window.steps), _MAX_GROWTH * window.steps)


def measure(
    step: Step,
    sync: Sync,
    settings: MeasureSettings,
    *,
    clock: Clock = time.perf_counter,
    progress: Progress | None = None,
) -> TimingResult:
    report = progress or (lambda phase, done, total: None)

    report("first_step", 0, 1)
    start = clock()
    sync(step())
    first_step_seconds = clock() - start

    report("calibrate", 0, 0)
    steps = settings.start_steps
    calibration = [time_window(step, sync, steps, clock)]
    while calibration[-1].seconds < settings.min_window_seconds:
        steps = next_steps(calibration[-1], settings.min_window_seconds)
        calibration.append(time_window(step, sync, steps, clock))

    # The last calibration window already has the final size: it is the first warm-up window.
    warmup = [calibration[-1]]
    while not settled(warmup, settings) and len(warmup) <= settings.max_warmup_windows:
        report("warmup", len(warmup), settings.max_warmup_windows + 1)
        warmup.append(time_window(step, sync, steps, clock))

    windows = []
    for index in range(settings.windows):
        report("measure", index, settings.windows)
        windows.append(time_window(step, sync, steps, clock))
    report("measure", settings.windows, settings.windows)

    return TimingResult(
        first_step_seconds=first_step_seconds,
        steps_per_window=steps,
        warmup=tuple(calibration[:-1] + warmup),
        windows=tuple(windows),
        warmup_capped=not settled(warmup, settings),
        calibration_windows=len(calibration) - 1,
    )
