"""Check processes of one run: how many run at once, with which threads, and each
process's outcome reaching the pairs of its own framework and mode."""

from __future__ import annotations

import threading
import time

import pytest

from dlarena.cell import ERROR, CellSpec, ThreadSettings
from dlarena.executors.base import CellOutcome, Executor, ProgressHandler
from dlarena.parity.check import check_many, check_processes, check_workloads


class FailingProbes(Executor):
    """Every probe fails naming its framework. A probe first waits (bounded) until `expect`
    probes have run at once, so a pool that runs them together is seen doing so however
    slowly its threads start; then it pauses, so a pool that runs more at once is seen too."""

    def __init__(self, expect: int = 1) -> None:
        self.cancelled = False
        self.expect = expect
        self._lock = threading.Condition()
        self.running = 0
        self.most_at_once = 0
        self.threads: list[ThreadSettings] = []

    def cancel(self) -> None:
        self.cancelled = True

    def run(self, cell: CellSpec, on_progress: ProgressHandler, *, task: str = "measure",
            artifacts: str | None = None, replicate: int = 0) -> CellOutcome:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.append(cell.threads)
            self._lock.notify_all()
            # A bound against a hang only: a pool that never runs `expect` at once fails
            # the test's count, not its clock.
            self._lock.wait_for(lambda: self.most_at_once >= self.expect, timeout=60)
        time.sleep(0.3)
        with self._lock:
            self.running -= 1
        return CellOutcome(cell=cell, status=ERROR, error=f"no {cell.framework} here",
                           payload={}, stderr_tail="", started_utc="", wall_seconds=0.3,
                           interpreter="python")


VARIANTS = [("torch", "eager"), ("tensorflow", "function"), ("jax", "jit")]


@pytest.mark.parametrize("parallel", [1, 2, 3])
def test_at_most_parallel_processes_run_at_once(parallel: int) -> None:
    executor = FailingProbes(expect=parallel)
    check_many([("mlp", VARIANTS), ("cnn", VARIANTS)], size="smoke", device="cpu",
               threads=ThreadSettings(1, 1), executor=executor, parallel=parallel)
    assert len(executor.threads) == len(VARIANTS)  # one process per framework and mode
    assert executor.most_at_once == parallel


def test_each_pair_carries_its_own_frameworks_failures() -> None:
    [mlp, cnn] = check_many([("mlp", VARIANTS), ("cnn", VARIANTS[:2])], size="smoke",
                            device="cpu", threads=ThreadSettings(1, 1),
                            executor=FailingProbes(), parallel=2)
    assert len(mlp) == 3 and len(cnn) == 1
    for result in [*mlp, *cnn]:
        assert not result.passed
        named = {framework for framework, _ in VARIANTS if f"no {framework} here" in
                 (result.error or "")}
        assert named == {result.first, result.second}, result.error


@pytest.mark.parametrize(("device", "threads", "expected"), [
    ("cpu", ThreadSettings(2, 2), 2),
    ("cpu", ThreadSettings(8, 2), 2),
    ("cpu", ThreadSettings(1, 1), 1),
    ("gpu", ThreadSettings(8, 2), 1),
])
def test_check_processes(device: str, threads: ThreadSettings, expected: int) -> None:
    assert check_processes(device, threads) == expected


def test_every_check_process_keeps_the_run_threads() -> None:
    # The check audits the timed path's precision, which depends on the threads.
    executor = FailingProbes(expect=2)
    check_many([("mlp", VARIANTS)], size="smoke", device="cpu", threads=ThreadSettings(2, 2),
               executor=executor, parallel=check_processes("cpu", ThreadSettings(2, 2)))
    assert executor.most_at_once == 2
    assert set(executor.threads) == {ThreadSettings(2, 2)}
    assert not executor.cancelled


def test_an_interrupt_cancels_the_processes_in_flight() -> None:
    def interrupted(variant: str) -> None:
        if variant == "jax/jit":
            raise KeyboardInterrupt

    executor = FailingProbes()
    with pytest.raises(KeyboardInterrupt):
        check_many([("mlp", VARIANTS)], size="smoke", device="cpu",
                   threads=ThreadSettings(2, 2), executor=executor, parallel=2,
                   on_variant=interrupted)
    assert executor.cancelled


def test_the_check_command_runs_a_workloads_probes_two_at_once() -> None:
    executor = FailingProbes(expect=2)
    [checked] = list(check_workloads(["mlp"], VARIANTS, size="smoke", device="cpu",
                                     threads=ThreadSettings(2, 2), executor=executor))
    assert executor.most_at_once == 2 and len(executor.threads) == 3
    assert len(checked.results) == 3 and not checked.passed
