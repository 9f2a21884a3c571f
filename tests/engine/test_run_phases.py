"""Where a run's time goes (#32): each process's phases and the run's own, stored and
reported; later rounds reuse the first round's window size; same-model checks run one
process per framework and mode for all workloads, and a rerun does not check again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dlarena.cell import CellSpec
from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.base import CellOutcome, ProgressHandler
from dlarena.executors.local import LocalExecutor
from dlarena.report import json as json_report
from dlarena.report import markdown, phases
from dlarena.report.build import build_report
from dlarena.store import Store
from tests.conftest import RecordingObserver

pytestmark = pytest.mark.usefixtures("no_fault")

PROCESS_PHASES = ["start", "import", "build", "prepare", "first_step", "calibrate", "warmup",
                  "measure", "exit"]


class CountingExecutor(LocalExecutor):
    """The local executor, keeping the task of every worker process it starts."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[tuple[str, str]] = []

    def run(self, cell: CellSpec, on_progress: ProgressHandler, *, task: str = "measure",
            artifacts: str | None = None, replicate: int = 0) -> CellOutcome:
        self.tasks.append((task, cell.workload))
        return super().run(cell, on_progress, task=task, artifacts=artifacts,
                           replicate=replicate)


def go(store: Store, request: Request, *, fresh: bool = False,
       executor: LocalExecutor | None = None) -> int:
    return run(request, store=store, executor=executor or LocalExecutor(), interpreters={},
               observer=RecordingObserver(), fresh=fresh).run_id


def test_every_process_stores_its_phases_and_they_fit_in_its_wall_time(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = go(store, Request(suite="smoke", frameworks=["fake"], workloads=["mlp"],
                               min_window_seconds=0.01, windows=3))
    for cell in store.cells(run_id):
        for details, wall in zip(cell.details, cell.wall_seconds, strict=True):
            found = details["phases"]
            assert list(found) == PROCESS_PHASES
            assert min(found.values()) >= 0 and found["start"] > 0 and found["measure"] > 0
            assert sum(found.values()) <= wall
    coordinator = store.run_phases(run_id)
    assert set(coordinator) == {"peaks", "checks", "run"}
    walls = sum(w for cell in store.cells(run_id) for w in cell.wall_seconds)
    assert coordinator["run"] >= walls + coordinator["peaks"] + coordinator["checks"]


def test_a_resumed_run_adds_its_invocation_and_never_counts_the_peaks_twice(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"],
                      scenarios=["train"], min_window_seconds=0.01, windows=3)
    run_id = go(store, request)
    first = store.run_phases(run_id)
    assert go(store, request) == run_id
    again = store.run_phases(run_id)
    assert again["peaks"] == first["peaks"] and again["run"] > first["run"]


def test_later_rounds_start_at_the_first_rounds_window_size(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = go(store, Request(suite="smoke", frameworks=["fake"], workloads=["mlp"],
                               scenarios=["train"], min_window_seconds=0.01, windows=3,
                               processes=3))
    rows = sqlite3.connect(store.path).execute(
        "SELECT process, spec, details FROM cells WHERE run_id = ? ORDER BY process", (run_id,))
    found = {process: (json.loads(spec)["cell"]["measure"]["start_steps"],
                       json.loads(details)["steps_per_window"])
             for process, spec, details in rows}
    assert found[0][0] == 1
    assert found[1][0] == found[2][0] == found[0][1] > 1
    # One identity for all three: the start is not part of the cell's key.
    assert len(store.cells(run_id)) == 1 and store.cells(run_id)[0].processes == 3


def test_checks_run_one_process_per_framework_and_mode_and_a_rerun_checks_nothing(
        tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp", "cnn"],
                      scenarios=["train"], modes=["all"], min_window_seconds=0.01, windows=3)
    executor = CountingExecutor()
    run_id = go(store, request, executor=executor)
    checks = [task for task in executor.tasks if task[0] != "measure"]
    # fake/eager and fake/compiled, each probing mlp and cnn in one process (4 before).
    assert checks == [("checks", "mlp"), ("checks", "mlp")]
    assert [result.passed for result in store.parity(run_id)] == [True, True]
    for fresh in (False, True):  # `make run` again resumes; --fresh starts a new run
        executor = CountingExecutor()
        again = go(store, request, executor=executor, fresh=fresh)
        assert [task for task in executor.tasks if task[0] != "measure"] == []
        assert len(store.parity(again)) == 2


def test_a_probe_that_fails_fails_its_workload_only(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "raise:cnn:check")
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp", "cnn"],
                      scenarios=["train"], modes=["all"], min_window_seconds=0.01, windows=3,
                      check_parity=True)
    run_id = go(store, request)
    results = {result.workload: result for result in store.parity(run_id)}
    assert results["mlp"].passed
    assert not results["cnn"].passed and "injected fault in cnn/check" in (
        results["cnn"].reason or "")


def test_reports_show_where_the_time_went(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = go(store, Request(suite="smoke", frameworks=["fake"], workloads=["mlp"],
                               scenarios=["train"], min_window_seconds=0.01, windows=3,
                               processes=2))
    report = build_report(store, run_id)
    found = phases.breakdown(report)
    assert found is not None and found.processes == 2
    assert found.total == pytest.approx(store.run_phases(run_id)["run"])
    named = [row[0] for row in phases.rows(report)]
    assert named[:3] == ["peaks", "checks", "worker processes (2)"]
    assert "· measure" in named and named[-1] == "run"
    # The parts add up to the run: nothing counted twice, nothing left out.
    parts = sum(seconds for name, seconds, _ in found.rows() if not name.startswith("· "))
    assert parts == pytest.approx(found.total)
    [row] = phases.framework_rows(report)
    assert row[:2] == ["fake", "2"]
    assert "## Where the time went" in markdown.render(report)
    document: dict[str, Any] = json.loads(json_report.render(report))["phases"]
    assert document["processes"] == 2 and set(document["by_framework"]) == {"fake"}
    assert document["process"]["measure"] > 0
