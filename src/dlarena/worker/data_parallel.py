"""Scenario `train-ddp`: one model trained by N processes on one machine, each on its shard
of the same global batch, gradients averaged by the framework's own data-parallel machinery.

The cell's worker is rank 0. Right after its framework is set up, before any model exists,
it starts ranks 1..N-1 (`python -m dlarena.worker.data_parallel`, in its own process group,
so they die with the cell) and every rank joins the group over 127.0.0.1, one address per
rank; a rank builds its models only after joining, because TensorFlow's collectives must be
configured before the process's first op.

The data-parallel same-model check, in float64 with plain SGD (whose update is linear in the
gradient, so a wrong scale cannot hide the way Adam's normalisation hides it): every rank
trains the workload's canonical weights `CHECK_STEPS` steps on its shard of the same global
batches, and its weights must equal, within `CHECK_TOLERANCE`, one of the two steps data
parallel can promise: each step, the mean of the N shards' gradients, each shard's forward
pass on its own (BatchNorm statistics per rank: PyTorch's DDP and Keras on the CPU), or the
gradient of the whole global batch (BatchNorm statistics of the global batch: JAX's SPMD
step). Without BatchNorm the two are the same step. Each rank computes both expectations
itself, with a model of its own outside the group, so no weights travel between ranks; rank
0 reports the largest difference of any rank and which statistics the ranks kept. Gradients
summed instead of averaged, or a rank whose weights left the group's, match neither
(`FAULT_VARIABLE` plants both; tests/test_data_parallel.py). Then every rank times float32
training on its shard in windows of a fixed number of steps that every rank runs in lock
step. Throughput counts the global batch.

A rank that dies makes rank 0 fail the cell at once (it exits with the rank's code and a
line saying so; the executor reports it); a rank that hangs makes the others' collectives
time out (`collective_timeout` option), and the cell's timeout bounds everything. Standard
library and NumPy only, like the rest of the worker side.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import SGD_OPTION, Implementation, Runtime, Weights, Workload
from dlarena.isolation import lifeline, netns, processes
from dlarena.scenarios.data_parallel import (
    BATCHNORM_KEY,
    GLOBAL_BATCH,
    PER_RANK,
    RANKS_OPTION,
    SAME_STEP,
)
from dlarena.worker.parts import (
    BATCH_POOL,
    ScenarioResult,
    build_implementation,
    cycling,
    setup_runtime,
)
from dlarena.worker.timing import Progress, TimingResult, Window

STEPS_OPTION = "steps_per_window"
TIMEOUT_OPTION = "collective_timeout"
CHECK_STEPS = 2
CHECK_LEARNING_RATE = 0.05
DEFAULT_STEPS_PER_WINDOW = 10
DEFAULT_COLLECTIVE_TIMEOUT = 60.0
# Same model in float64: every trained weight within this of the expected step's (relative
# to max(1, max |weight|) of its tensor); reduction order alone moves it by ~1e-15.
CHECK_TOLERANCE = 1e-9
# For tests: "exit:<rank>" (the rank exits with code 3), "hang:<rank>" (it never joins),
# "unsync:<rank>" (the rank's check weights leave the group's after wrapping) or "sum:all"
# (every rank steps by the sum of the ranks' gradients, not their mean: with plain SGD the
# same update as N times the learning rate).
FAULT_VARIABLE = "DLARENA_RANK_FAULT"
GUARD_ARGUMENT = "--guard"
# Rank 0's join gets this long beyond the collective timeout (the framework's own timeout
# should end it first) before SIGALRM ends the process: a framework may wait there holding
# the GIL, past any timeout a thread could enforce (TensorFlow's does).
JOIN_GRACE_SECONDS = 5


def _free_addresses(count: int) -> list[str]:
    """`count` distinct free loopback addresses ("127.0.0.1:port")."""
    return [f"127.0.0.1:{port}" for port in processes.free_loopback_ports(count)]


def _global_batches(workload: Workload, cell: CellSpec, count: int
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same global batches in every rank (one seed), as NumPy arrays."""
    rng = np.random.default_rng(cell.seed + 1)
    return [workload.synthetic_batch(rng, cell.batch_size, cell.size) for _ in range(count)]


def _shard(batch: tuple[np.ndarray, np.ndarray], rank: int, world: int
           ) -> tuple[np.ndarray, np.ndarray]:
    per_rank = len(batch[1]) // world
    chosen = slice(rank * per_rank, (rank + 1) * per_rank)
    return batch[0][chosen], batch[1][chosen]


def _fault() -> tuple[str, str]:
    fault, _, where = os.environ.get(FAULT_VARIABLE, "").partition(":")
    return fault, where


def _check_cell(cell: CellSpec, learning_rate: float) -> CellSpec:
    return dataclasses.replace(cell, precision="fp64",
                               options={**cell.options, SGD_OPTION: learning_rate})


def _expected_weights(single: Implementation, workload: Workload, cell: CellSpec, world: int,
                      batches: list[tuple[np.ndarray, np.ndarray]]) -> Weights:
    """What every rank must hold after the check's steps: from the canonical weights, each
    step subtracts the learning rate times the mean of the `world` shards' gradients,
    computed by `single`, a model outside the group, shard by shard."""
    weights = workload.initial_weights(cell.size, cell.seed)
    for batch in batches:
        single.set_weights(weights)
        gradients = [single.gradients(single.to_device(*_shard(batch, rank, world)))[1]
                     for rank in range(world)]
        weights = {**weights, **{
            name: weights[name] - CHECK_LEARNING_RATE * np.mean(
                [np.asarray(shard[name], dtype=np.float64) for shard in gradients], axis=0)
            for name in gradients[0]}}
    return {name: weights[name] for name in gradients[0]} if batches else {}


def _weight_difference(found: Weights, expected: Weights) -> float:
    """The largest relative difference of any trained weight (relative to its tensor's
    largest magnitude, at least 1)."""
    return max(float(np.max(np.abs(np.asarray(found[name], dtype=np.float64) - value)))
               / max(1.0, float(np.max(np.abs(value)))) for name, value in expected.items())


def batchnorm_statistics(per_rank: float, global_batch: float) -> str:
    """Which step the ranks took, by the two differences: what a report compares."""
    if per_rank <= CHECK_TOLERANCE and global_batch <= CHECK_TOLERANCE:
        return SAME_STEP
    if per_rank <= CHECK_TOLERANCE:
        return PER_RANK
    if global_batch <= CHECK_TOLERANCE:
        return GLOBAL_BATCH
    return "neither (the check failed)"


def _check(runtime: Runtime, cell: CellSpec, rank: int, world: int) -> tuple[float, float]:
    """This rank's part of the same-model check: how far its weights after the check's steps
    in the group are from the per-rank-statistics step and from the global batch's step
    (module docstring)."""
    workload = registry.workloads()[cell.workload]
    batches = _global_batches(workload, cell, CHECK_STEPS)
    fault, where = _fault()
    rate = CHECK_LEARNING_RATE * (world if fault == "sum" else 1)
    model = build_implementation(_check_cell(cell, rate), runtime)
    model.data_parallel()
    if fault == "unsync" and where == str(rank):
        model.set_weights(workload.initial_weights(cell.size, cell.seed + 1))
    model.prepare(training=True)
    for batch in batches:
        runtime.scalar(model.train_step(model.to_device(*_shard(batch, rank, world))))
    found = model.get_weights()
    del model
    single = build_implementation(_check_cell(cell, CHECK_LEARNING_RATE), runtime)
    single.prepare(training=True)
    per_rank = _expected_weights(single, workload, cell, world, batches)
    global_batch = _expected_weights(single, workload, cell, 1, batches)
    return _weight_difference(found, per_rank), _weight_difference(found, global_batch)


def _windows(step: Any, runtime: Runtime, steps: int, count: int) -> list[Window]:
    windows = []
    for _ in range(count):
        start = time.perf_counter()
        value = None
        for _ in range(steps):
            value = step()
        runtime.sync(value)
        windows.append(Window(steps, time.perf_counter() - start))
    return windows


def _rank_work(impl: Implementation, runtime: Runtime, cell: CellSpec, rank: int,
               world: int) -> dict[str, Any]:
    """One rank's part, after joining: the float64 check's losses, then the timed windows."""
    workload = registry.workloads()[cell.workload]
    difference, global_batch = _check(runtime, cell, rank, world)
    impl.data_parallel()
    impl.prepare(training=True)
    step = cycling(impl.train_step, [impl.to_device(*_shard(batch, rank, world)) for batch
                                     in _global_batches(workload, cell, BATCH_POOL)])
    start = time.perf_counter()
    runtime.sync(step())
    first = time.perf_counter() - start
    steps = int(cell.options.get(STEPS_OPTION, DEFAULT_STEPS_PER_WINDOW))
    warmup = _windows(step, runtime, steps, cell.measure.max_warmup_windows)
    windows = _windows(step, runtime, steps, cell.measure.windows)
    return {"weight_difference": difference, "global_batch_difference": global_batch,
            "first_step_seconds": first, "steps": steps,
            "warmup": [[w.steps, w.seconds] for w in warmup],
            "windows": [[w.steps, w.seconds] for w in windows]}


def _inject_fault(rank: int) -> None:
    """Faults that end or stall a rank before it joins (the check's own are in `_check`)."""
    fault, where = _fault()
    if fault not in ("", "exit", "hang", "unsync", "sum"):
        raise ValueError(f"unknown fault {fault!r} in {FAULT_VARIABLE}")
    if where != str(rank):
        return
    if fault == "exit":
        os._exit(3)
    if fault == "hang":
        while True:
            time.sleep(60)


class _Ranks:
    """Ranks 1..N-1 as child processes of rank 0, watched: one that dies ends rank 0 too.

    Twice: by a thread here, and by a guard process between rank 0 and each rank (`_guard`),
    because a framework can wait in a collective while holding the GIL (TensorFlow's join
    does), and then no thread of rank 0 runs until the wait ends.
    """

    def __init__(self, cell: CellSpec, world: int, addresses: list[str]) -> None:
        self.children: list[subprocess.Popen[str]] = []
        self._done = threading.Event()
        for rank in range(1, world):
            child = subprocess.Popen(
                [sys.executable, "-m", "dlarena.worker.data_parallel", GUARD_ARGUMENT,
                 str(rank)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                env={**os.environ, lifeline.COORDINATOR_VARIABLE: str(os.getpid())})
            assert child.stdin is not None
            child.stdin.write(json.dumps({"cell": json.loads(cell.to_json()), "rank": rank,
                                          "world": world, "addresses": addresses}) + "\n")
            child.stdin.close()
            child.stdin = None  # sent: `communicate` has nothing more to write
            self.children.append(child)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(0.2):
            for rank, child in enumerate(self.children, start=1):
                code = child.poll()
                if code is not None and code != 0 and not self._done.is_set():
                    # Rank 0 may be blocked inside a collective that only a timeout would
                    # end: leave now, with the reason as the last line of stderr.
                    self.stop()
                    print(f"data-parallel rank {rank} exited with code {code} before the "
                          "cell finished", file=sys.stderr, flush=True)
                    os._exit(1)

    def results(self, timeout: float) -> list[dict[str, Any]]:
        results = []
        for rank, child in enumerate(self.children, start=1):
            try:
                output, _ = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                raise TimeoutError(f"data-parallel rank {rank} sent no result within "
                                   f"{timeout:g} s") from None
            lines = [line for line in output.splitlines() if line.startswith("{")]
            if child.returncode != 0 or not lines:
                raise RuntimeError(f"data-parallel rank {rank} exited with code "
                                   f"{child.returncode} without a result")
            results.append(json.loads(lines[-1]))
        self._done.set()
        return results

    def stop(self) -> None:
        self._done.set()
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()


# The ranks this worker started (one cell per worker process): set by `start_and_join`
# before the model is built, used by `run_train_ddp` after.
_started: _Ranks | None = None


def _world(cell: CellSpec) -> int:
    world = int(cell.options.get(RANKS_OPTION, 1))
    if world < 1 or cell.batch_size % world:
        raise ValueError(f"a global batch of {cell.batch_size} does not split into {world} "
                         "equal shards")
    return world


def _timeout(cell: CellSpec) -> float:
    return float(cell.options.get(TIMEOUT_OPTION, DEFAULT_COLLECTIVE_TIMEOUT))


def start_and_join(runtime: Runtime, cell: CellSpec, progress: Progress) -> None:
    """Rank 0, before its model is built: start the other ranks, join the group."""
    global _started
    listens = registry.frameworks()[cell.framework].listens_on_every_interface
    if listens and netns.interfaces() != ["lo"]:
        raise RuntimeError(
            f"{cell.framework}'s ranks would listen on every interface of this machine "
            f"({listens}): its cells run in a private network namespace (cell option "
            f"{netns.OPTION}, which the plan sets)")
    world = _world(cell)
    addresses = _free_addresses(world)
    progress("ranks", 0, world)
    _started = _Ranks(cell, world, addresses)
    deadline = math.ceil(_timeout(cell)) + JOIN_GRACE_SECONDS
    print(f"data-parallel rank 0 joins the group of {world}; SIGALRM ends it if it has not "
          f"joined within {deadline} s (a join that timed out)", file=sys.stderr, flush=True)
    # SIGALRM's default action ends the process without needing the GIL.
    signal.alarm(deadline)
    try:
        runtime.join_data_parallel(rank=0, world=world, addresses=addresses,
                                   timeout_seconds=_timeout(cell))
    except BaseException:
        _started.stop()
        raise
    finally:
        signal.alarm(0)


def run_train_ddp(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
                  progress: Progress) -> ScenarioResult:
    """Rank 0: its check and timing, then the other ranks' results (module docstring); the
    ranks were started and joined by `start_and_join`."""
    if _started is None:
        raise RuntimeError("train-ddp runs after start_and_join (the scenario's before_build)")
    world = _world(cell)
    ranks = _started
    try:
        progress("measure", 0, 1)
        mine = _rank_work(impl, runtime, cell, 0, world)
        runtime.leave_data_parallel()
        others = ranks.results(_timeout(cell))
    finally:
        ranks.stop()
    every = [mine, *others]
    per_rank = max(float(rank["weight_difference"]) for rank in every)
    global_batch = max(float(rank["global_batch_difference"]) for rank in every)
    difference = min(per_rank, global_batch)
    timing = TimingResult(
        first_step_seconds=max(rank["first_step_seconds"] for rank in every),
        steps_per_window=mine["steps"],
        warmup=tuple(Window(int(s), float(t)) for s, t in mine["warmup"]),
        windows=tuple(Window(int(s), float(t)) for s, t in mine["windows"]),
        warmup_capped=False)
    return ScenarioResult(
        timing.first_step_seconds, timing,
        extra_metrics={"ranks": float(world), "data_parallel_weight_difference": difference,
                       "data_parallel_global_batch_difference": global_batch,
                       "data_parallel_same_model": float(difference <= CHECK_TOLERANCE)},
        manifest={BATCHNORM_KEY:
                  batchnorm_statistics(per_rank, global_batch),
                  "data_parallel_network": (
            "a private network namespace: loopback only" if cell.options.get(netns.OPTION)
            else "127.0.0.1")})


def _guard(rank: int) -> int:
    """Between rank 0 and rank `rank`: run the rank (same stdin and stdout); if it fails,
    say so and kill rank 0, which may be stuck in a wait that no thread of its own can end."""
    lifeline.die_with_parent()
    parent = os.getppid()
    code = subprocess.call([sys.executable, "-m", "dlarena.worker.data_parallel"])
    if code != 0 and os.getppid() == parent:
        print(f"data-parallel rank {rank} exited with code {code} before the cell finished",
              file=sys.stderr, flush=True)
        os.kill(parent, signal.SIGKILL)
    return code


def main() -> int:
    """One rank other than 0: join, do its part, print its result as one JSON line."""
    if sys.argv[1:2] == [GUARD_ARGUMENT]:
        return _guard(int(sys.argv[2]))
    lifeline.die_with_parent()
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # framework chatter to stderr
    request = json.loads(sys.stdin.readline())
    rank, world = int(request["rank"]), int(request["world"])
    _inject_fault(rank)
    cell = CellSpec.from_dict(request["cell"]["cell"])
    runtime = setup_runtime(cell)
    runtime.join_data_parallel(rank=rank, world=world, addresses=list(request["addresses"]),
                               timeout_seconds=_timeout(cell))
    impl = build_implementation(cell, runtime)
    result = _rank_work(impl, runtime, cell, rank, world)
    runtime.leave_data_parallel()
    protocol.write(json.dumps(result) + "\n")
    protocol.flush()
    return 0


if __name__ == "__main__":
    lifeline.exit_now(main())  # the rank's result is sent
