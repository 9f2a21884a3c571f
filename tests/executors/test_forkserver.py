"""Workers forked from a per-round fork server (executors/forkserver.py, worker/forkserver.py):
which cells fork, what they share and what they do not, and the fallbacks to a fresh process.
The behaviours a fresh worker has (faults, timeouts, dying with the coordinator) are tested
for forked ones too, in test_executor.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from dlarena.executors.base import CellOutcome
from dlarena.executors.local import FORKED, LocalExecutor
from tests.conftest import fake_cell, processes_marked, wait_for

pytestmark = pytest.mark.usefixtures("no_fault")


@pytest.fixture
def executor() -> Iterator[LocalExecutor]:
    measuring = LocalExecutor(forked_scenarios=("train",))
    yield measuring
    measuring.close()


def measure(executor: LocalExecutor, replicate: int = 0, **changes: object) -> CellOutcome:
    outcome = executor.run(fake_cell(**changes), lambda *_: None, replicate=replicate)
    assert outcome.status == "ok", outcome.error
    return outcome


def test_a_rounds_cells_share_its_server_and_the_next_round_starts_its_own(
    executor: LocalExecutor,
) -> None:
    first = measure(executor, workload="mlp")
    second = measure(executor, workload="cnn")
    assert first.details["process"] == second.details["process"] == FORKED
    # The round's first cell paid for the server (its wall includes it); the second did not.
    assert first.payload["phases"]["fork_server"] > 0
    assert "fork_server" not in second.payload["phases"]
    for outcome in (first, second):  # the fork, and the exit, as a fresh worker's start
        assert 0 <= outcome.payload["phases"]["start"] < first.payload["phases"]["fork_server"]
        assert outcome.payload["phases"]["exit"] >= 0
    assert first.wall_seconds >= first.payload["phases"]["fork_server"]
    assert first.payload["pid"] != second.payload["pid"]  # each cell its own process
    executor.end_round()
    again = measure(executor, replicate=1, workload="mlp")
    assert again.payload["phases"]["fork_server"] > 0


def test_a_new_round_never_reuses_the_last_rounds_server(executor: LocalExecutor) -> None:
    measure(executor, replicate=0)
    # No end_round in between (a caller that forgot): the replicate alone starts another.
    assert "fork_server" in measure(executor, replicate=1).payload["phases"]


def test_a_forked_worker_reports_no_time_to_a_first_result(executor: LocalExecutor) -> None:
    metrics = measure(executor).payload["metrics"]
    assert "first_step_seconds" in metrics
    assert "time_to_first_result_seconds" not in metrics  # the import was not its own
    fresh = LocalExecutor().run(fake_cell(), lambda *_: None)
    assert "time_to_first_result_seconds" in fresh.payload["metrics"]


def test_a_framework_and_its_twin_never_share_a_server(executor: LocalExecutor) -> None:
    """The A/A control compares a framework with its twin: each has its own server, as two
    frameworks do."""
    assert "fork_server" in measure(executor, framework="fake").payload["phases"]
    assert "fork_server" in measure(executor, framework="fake-twin").payload["phases"]


def test_scenarios_that_time_a_process_start_run_fresh(executor: LocalExecutor) -> None:
    outcome = executor.run(fake_cell(scenario="startup"), lambda *_: None)
    assert outcome.status == "ok", outcome.error
    assert "process" not in outcome.details
    assert "time_to_first_result_seconds" in outcome.payload["metrics"]


@pytest.mark.parametrize("fault", ["preload-refused", "preload-exit"])
def test_without_a_fork_server_the_cell_runs_in_a_fresh_process(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", fault)
    outcome = measure(executor)
    assert "process" not in outcome.details
    assert outcome.details["fork_server_unavailable"] == {
        "preload-refused": "fake has no preload step",
        "preload-exit": "the fork server of fake did not start: (it wrote nothing)"}[fault]
    assert "fork_server" not in outcome.payload["phases"]
    assert "time_to_first_result_seconds" in outcome.payload["metrics"]


def test_a_crashed_worker_leaves_its_server_serving(
    executor: LocalExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "abort:cnn")
    crashed = executor.run(fake_cell(workload="cnn"), lambda *_: None)
    assert crashed.status == "error"
    assert crashed.error is not None and "SIGABRT" in crashed.error
    after = measure(executor, workload="mlp")
    assert "fork_server" not in after.payload["phases"]  # the same server forked it


def test_end_round_leaves_no_server_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    marker = str(uuid.uuid4())
    monkeypatch.setenv("DLARENA_TEST_MARKER", marker)
    measuring = LocalExecutor(forked_scenarios=("train",))
    measure(measuring)
    assert any("dlarena.worker.forkserver" in command
               for command in processes_marked(marker).values())
    measuring.end_round()
    assert wait_for(lambda: not processes_marked(marker), 10), processes_marked(marker)
    measuring.close()
