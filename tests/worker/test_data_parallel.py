"""Scenario train-ddp: N processes train one model over loopback; the data-parallel
same-model check; a rank that crashes or hangs fails its cell in bounded time, and no rank
outlives it."""

from __future__ import annotations

import dataclasses
import secrets
import time
from typing import Any

import pytest

from dlarena.cell import CellSpec, ThreadSettings
from dlarena.engine.plan import Request, build_plan
from dlarena.executors.base import CellOutcome
from dlarena.executors.local import LocalExecutor
from dlarena.scenarios.data_parallel import (
    BATCHNORM_KEY,
    GLOBAL_BATCH,
    PER_RANK,
    framework_options,
    rank_threads,
)
from dlarena.worker.data_parallel import CHECK_TOLERANCE, FAULT_VARIABLE
from tests.conftest import FAST, fake_cell, processes_marked, require, wait_for

pytestmark = pytest.mark.usefixtures("no_fault")


# Each framework that trains data-parallel, in its default mode.
MODES = {"torch": "eager", "tensorflow": "function", "jax": "jit"}


def ddp_cell(workload: str, ranks: int, framework: str = "torch", **options: Any) -> CellSpec:
    return fake_cell(workload=workload, framework=framework, mode=MODES[framework],
                     scenario="train-ddp", batch_size=8, threads=ThreadSettings(1, 1),
                     measure=FAST, timeout_seconds=120,
                     options={"ranks": ranks, "steps_per_window": 2,
                              **framework_options(framework), **options})


def measure(cell: CellSpec, monkeypatch: pytest.MonkeyPatch, **variables: str
            ) -> tuple[CellOutcome, str]:
    """Run the cell in a worker, marked so its ranks can be found; the marker returned."""
    marker = f"dlarena-ddp-test-{secrets.token_hex(6)}"
    monkeypatch.setenv("DLARENA_DDP_TEST", marker)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return LocalExecutor().run(cell, lambda _cell, _event: None), marker


def test_the_plan_has_one_cell_per_rank_count_for_frameworks_that_train_data_parallel(
) -> None:
    planned = build_plan(Request(suite="smoke", frameworks=["torch", "tensorflow", "fake"],
                                 workloads=["mlp", "cnn"], scenarios=["train-ddp"],
                                 threads=ThreadSettings(2, 2)), ThreadSettings(2, 2))
    cells = [p.cell for p in planned]
    # The fake has no data-parallel training.
    assert {c.framework for c in cells} == {"torch", "tensorflow"}
    assert sorted((c.framework, c.workload, c.options["ranks"], c.threads.intra_op)
                  for c in cells) == [
        (framework, workload, ranks, 2 // ranks) for framework in ("tensorflow", "torch")
        for workload in ("cnn", "mlp") for ranks in (1, 2)]
    assert rank_threads(ThreadSettings(1, 1), 2) == ThreadSettings(1, 1)
    # TensorFlow's ranks listen on every interface: its cells get a private network.
    assert {(c.framework, c.options.get("private_network")) for c in cells} == {
        ("torch", None), ("tensorflow", True)}


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", ["torch", "tensorflow", "jax"])
@pytest.mark.parametrize("ranks", [1, 2])
def test_n_ranks_train_the_same_model_as_one_process_on_the_global_batch(
        framework: str, ranks: int, monkeypatch: pytest.MonkeyPatch) -> None:
    require(framework)
    outcome, marker = measure(ddp_cell("mlp", ranks, framework), monkeypatch)
    assert outcome.status == "ok", (outcome.error, outcome.stderr_tail[-3000:])
    metrics = outcome.payload["metrics"]
    assert metrics["ranks"] == ranks and metrics["data_parallel_same_model"] == 1.0
    assert metrics["data_parallel_weight_difference"] < CHECK_TOLERANCE
    # Without BatchNorm the mean of the shards' gradients is the global batch's gradient.
    assert metrics["data_parallel_global_batch_difference"] < CHECK_TOLERANCE
    assert len(outcome.payload["windows"]) == FAST.windows
    assert all(steps == 2 and seconds > 0 for steps, seconds in outcome.payload["windows"])
    assert outcome.payload["manifest"]["data_parallel_network"] == (
        "a private network namespace: loopback only" if framework in ("tensorflow", "jax")
        else "127.0.0.1")
    assert wait_for(lambda: not processes_marked(marker), 10)


@pytest.mark.frameworks
@pytest.mark.parametrize(("framework", "statistics"), [
    ("torch", PER_RANK), ("tensorflow", PER_RANK), ("jax", GLOBAL_BATCH)])
def test_batchnorm_statistics_are_per_rank_or_global_and_the_cell_says_which(
        framework: str, statistics: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the CPU DDP keeps BatchNorm statistics per rank, and so does Keras'
    BatchNormalization under MultiWorkerMirroredStrategy (`synchronized=False`): their ranks
    step by the mean of per-shard gradients, not by the global batch's. JAX's SPMD step
    computes the statistics over the global batch. Either passes the check, exactly, and
    the cell states which (a verdict between the two kinds is refused)."""
    require(framework)
    outcome, _ = measure(ddp_cell("cnn", 2, framework), monkeypatch)
    assert outcome.status == "ok", (outcome.error, outcome.stderr_tail[-3000:])
    metrics = outcome.payload["metrics"]
    assert metrics["data_parallel_same_model"] == 1.0
    assert metrics["data_parallel_weight_difference"] < CHECK_TOLERANCE
    assert outcome.payload["manifest"][BATCHNORM_KEY] == statistics
    if statistics == PER_RANK:
        assert metrics["data_parallel_global_batch_difference"] > 1e-6
    else:
        assert metrics["data_parallel_global_batch_difference"] < CHECK_TOLERANCE


@pytest.mark.frameworks
@pytest.mark.parametrize("framework", ["torch", "tensorflow", "jax"])
@pytest.mark.parametrize("fault", ["sum:all", "unsync:1"])
def test_planted_gradient_faults_fail_the_check(
        framework: str, fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Gradients summed over the ranks instead of averaged, and a rank whose weights left
    the group's after wrapping: the cell is measured, and its check fails."""
    require(framework)
    outcome, _ = measure(ddp_cell("mlp", 2, framework), monkeypatch,
                         **{FAULT_VARIABLE: fault})
    assert outcome.status == "ok", (outcome.error, outcome.stderr_tail[-3000:])
    metrics = outcome.payload["metrics"]
    assert metrics["data_parallel_same_model"] == 0.0
    assert metrics["data_parallel_weight_difference"] > 1e-4


@pytest.mark.frameworks
@pytest.mark.parametrize(("framework", "fault", "reason"), [
    ("torch", "exit:1", "data-parallel rank 1 exited with code 3"),
    ("torch", "hang:1", "timed out after"),
    ("tensorflow", "exit:1", "data-parallel rank 1 exited with code 3"),
    # TensorFlow's join waits holding the GIL, past its own timeouts: SIGALRM ends it.
    ("tensorflow", "hang:1", "killed by SIGALRM"),
    ("jax", "exit:1", "data-parallel rank 1 exited with code 3"),
    # jax.distributed's join waits too (measured: 13 s, SIGALRM's bound, for a timeout of 8).
    ("jax", "hang:1", "killed by SIGALRM"),
])
def test_a_crashed_or_hung_rank_fails_its_cell_in_bounded_time_and_nothing_outlives_it(
        framework: str, fault: str, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    require(framework)
    started = time.monotonic()
    outcome, marker = measure(ddp_cell("mlp", 2, framework, collective_timeout=8), monkeypatch,
                              **{FAULT_VARIABLE: fault})
    assert outcome.status == "error" and reason.lower() in (outcome.error or "").lower(), \
        (outcome.error, outcome.stderr_tail[-2000:])
    assert time.monotonic() - started < 100  # well inside the cell's 120 s timeout
    assert wait_for(lambda: not processes_marked(marker), 15), processes_marked(marker)


@pytest.mark.frameworks
def test_ranks_that_would_listen_on_every_interface_need_the_private_network(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A TensorFlow cell made without the option the plan sets fails before any rank
    starts, rather than listen on the machine's interfaces."""
    require("tensorflow")
    cell = ddp_cell("mlp", 2, "tensorflow")
    cell = dataclasses.replace(cell, options={k: v for k, v in cell.options.items()
                                              if k != "private_network"})
    outcome, marker = measure(cell, monkeypatch)
    assert outcome.status == "error"
    assert "would listen on every interface" in (outcome.error or ""), outcome.error
    assert wait_for(lambda: not processes_marked(marker), 10)
