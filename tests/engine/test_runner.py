"""A whole run with the fake framework: store, resume, interruption, failures."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import numpy as np
import pytest

from dlarena import registry
from dlarena.engine import environment
from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.errors import UsageError
from dlarena.executors.local import FORKED, LocalExecutor
from dlarena.scenarios import pre_imported
from dlarena.store import Store
from tests.conftest import RecordingObserver, processes_marked

pytestmark = pytest.mark.usefixtures("no_fault")

FAKE = Request(suite="smoke", frameworks=["fake"], min_window_seconds=0.01, windows=3)


def go(store: Store, request: Request = FAKE, *, fresh: bool = False,
       observer: RecordingObserver | None = None):  # type: ignore[no-untyped-def]
    return run(request, store=store, executor=LocalExecutor(), interpreters={},
               observer=observer or RecordingObserver(), fresh=fresh)


def test_run_stores_every_cell_with_samples(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    summary = go(store)
    assert (summary.measured, summary.skipped, summary.failed) == (4, 0, 0)
    cells = store.cells(summary.run_id)
    assert len(cells) == 4
    for cell in cells:
        metric = f"{cell.spec.scenario}_throughput"
        assert len(cell.samples[metric]) == 3 and min(cell.samples[metric]) > 0
    env = store.run(summary.run_id).environment
    fake_version = environment.framework_version(registry.frameworks()["fake"])
    assert env["framework_versions"] == {"fake": fake_version}
    assert env["threads"]["intra_op"] >= 1 and env["cpu_model"]


def test_same_command_again_skips_finished_cells(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    first = go(store)
    again = go(store)
    assert again.run_id == first.run_id
    assert (again.measured, again.skipped) == (0, 4)


def test_fresh_starts_a_new_run(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    first = go(store)
    fresh = go(store, fresh=True)
    assert fresh.run_id != first.run_id and fresh.measured == 4


def test_interrupted_run_resumes_without_repeating_finished_cells(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    with pytest.raises(KeyboardInterrupt):
        go(store, observer=RecordingObserver(interrupt_after=2))
    [stored_run] = store.runs()
    before = store.finished(stored_run.id)
    assert len(before) == 2
    observer = RecordingObserver()
    resumed = go(store, observer=observer)
    assert resumed.run_id == stored_run.id
    assert (resumed.measured, resumed.skipped) == (2, 2)
    started = {(e[1].cell.key, e[1].process) for e in observer.events if e[0] == "started"}
    assert len(started) == 2 and not started & before
    assert len(store.cells(stored_run.id)) == 4


def test_a_crashing_cell_is_recorded_and_the_next_cells_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "abort:mlp:train")
    store = Store.open(tmp_path / "r.db")
    summary = go(store)
    assert (summary.measured, summary.failed) == (4, 1)
    by_cell = {(c.spec.workload, c.spec.scenario): c for c in store.cells(summary.run_id)}
    crashed = by_cell[("mlp", "train")]
    assert not crashed.ok and "SIGABRT" in (crashed.error or "")
    assert all(c.ok for key, c in by_cell.items() if key != ("mlp", "train"))


def test_failed_cells_are_retried_when_the_run_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLARENA_FAKE_FAULT", "raise:cnn:infer")
    store = Store.open(tmp_path / "r.db")
    go(store)
    monkeypatch.delenv("DLARENA_FAKE_FAULT")
    again = go(store)
    assert (again.measured, again.skipped, again.failed) == (1, 3, 0)
    assert all(cell.ok for cell in store.cells(again.run_id))


def test_a_missing_framework_is_a_usage_error_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "framework_version", lambda info, interpreter=None: None)
    store = Store.open(tmp_path / "r.db")
    with pytest.raises(UsageError, match=r"fake is not installed; install it with: .* -m pip install numpy"):
        go(store)
    assert store.runs() == []


def test_several_processes_per_cell_are_pooled_and_their_spread_reported(tmp_path: Path) -> None:
    from dlarena.report.build import build_report

    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"], scenarios=["train"],
                      min_window_seconds=0.01, windows=3, processes=3)
    summary = go(store, request)
    assert summary.measured == 3
    [cell] = build_report(store, summary.run_id).cells
    assert cell.stored.processes == 3
    per_process = cell.stored.samples_by_process["train_throughput"]
    assert [len(windows) for windows in per_process] == [3, 3, 3]
    medians = [float(np.median(windows)) for windows in per_process]
    assert cell.between_process_cv == pytest.approx(np.std(medians, ddof=1) / np.mean(medians))


def test_gpu_cells_synchronise_every_window_and_record_device_memory(tmp_path: Path) -> None:
    """The fake's GPU path: a sync before every clock read, and a device-memory figure."""
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"], scenarios=["train"],
                      min_window_seconds=0.01, windows=3, device="gpu")
    summary = go(store, request)
    [cell] = store.cells(summary.run_id)
    assert cell.ok and cell.spec.device == "gpu" and cell.device_name == "fake-gpu"
    assert "peak_device_memory_bytes" in cell.samples  # a CPU cell has none (see below)
    [details] = cell.details
    windows = sqlite3.connect(tmp_path / "r.db").execute("SELECT COUNT(*) FROM windows").fetchone()[0]
    assert details["manifest"]["synchronised_reads"] == windows + 1  # + the first step


def test_latency_startup_and_modes_with_the_fake(tmp_path: Path) -> None:
    from dlarena.report.build import build_report
    from dlarena.report.table import latency_rows, startup_rows

    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"],
                      scenarios=["startup", "latency"], modes=["all"], min_window_seconds=0.01)
    observer = RecordingObserver()
    summary = go(store, request, observer=observer)
    assert summary.failed == 0
    cells = {(c.spec.scenario, c.spec.mode): c for c in store.cells(summary.run_id)}
    assert set(cells) == {(s, m) for s in ("startup", "latency") for m in ("eager", "compiled")}
    latency = cells[("latency", "eager")]
    assert latency.spec.batch_size == 1
    assert len(latency.samples["latency_seconds"]) >= 50
    startup = cells[("startup", "eager")]
    first = startup.samples["time_to_first_result_seconds"][0]
    parts = [startup.samples[name][0] for name in
             ("import_seconds", "build_seconds", "first_step_seconds")]
    # Each part took time, and all of it fits inside the worker's life as the coordinator saw it.
    assert all(part > 0 for part in parts) and first >= max(parts)
    [outcome] = [o for o in observer.outcomes
                  if (o.cell.scenario, o.cell.mode) == ("startup", "eager")]
    assert first < outcome.wall_seconds
    assert "peak_device_memory_bytes" not in latency.samples
    assert "train_throughput" not in startup.samples
    report = build_report(store, summary.run_id)
    assert len(latency_rows(report)) == 2 and len(startup_rows(report)) == 2


ADAPTIVE = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"], scenarios=["train"],
                   modes=["all"], min_window_seconds=0.01, until_decided=True)


def test_until_decided_stops_a_clear_comparison_at_the_first_look(tmp_path: Path) -> None:
    """The fake's compiled mode does a sliver of its eager one's work: decided (different)
    before the budget of 5 rounds, and not a process more."""
    store = Store.open(tmp_path / "r.db")
    observer = RecordingObserver()
    summary = go(store, ADAPTIVE, observer=observer)
    (cell_a, cell_b) = store.cells(summary.run_id)
    rounds = cell_a.processes
    assert cell_b.processes == rounds and 2 <= rounds < 5
    assert summary.measured == 2 * rounds and summary.failed == 0
    notes = [text for kind, text in observer.events if kind == "note"]
    assert any(text.endswith(f"different after {rounds} rounds") for text in notes), notes
    # Each round ran the two cells in an order rotated from the last: each went first in turn.
    orders = [d["round_order"] for d in cell_a.details]
    assert orders == [(orders[0] + r) % 2 for r in range(rounds)], orders
    environment_ = store.run(summary.run_id).environment
    assert environment_["stopping"]["min_rounds"] == 2
    # The report reads the verdict at the rule's confidence, as the rule decided it.
    from dlarena.report.build import build_report

    [group] = build_report(store, summary.run_id).groups
    [verdict] = group.verdicts
    assert verdict.decision == "different" and "95% CI over all looks" in verdict.text
    assert verdict.rounds == rounds
    # Resuming measures nothing more: the stored rounds decide again.
    again = go(store, ADAPTIVE)
    assert again.run_id == summary.run_id and again.measured == 0


def test_forked_rounds_each_have_their_own_servers_and_none_outlives_its_round(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each round starts a fork server per framework (the round's first cell of it pays for
    it), and the runner ends the round's servers before the next round begins."""
    marker = str(uuid.uuid4())
    monkeypatch.setenv("DLARENA_TEST_MARKER", marker)
    executor = LocalExecutor(forked_scenarios=pre_imported())
    summary = run(ADAPTIVE, store=(store := Store.open(tmp_path / "r.db")), executor=executor,
                  interpreters={}, observer=RecordingObserver())
    assert not processes_marked(marker)  # executor.close() not called: end_round did it
    cells = store.cells(summary.run_id)
    assert summary.failed == 0 and all(c.processes >= 2 for c in cells)
    for cell in cells:
        assert all(d["process"] == FORKED for d in cell.details)
    paid = [["fork_server" in d["phases"] for d in cell.details] for cell in cells]
    # One server per round (the fake has one framework, both modes): one cell pays for it.
    assert [a + b for a, b in zip(*paid, strict=True)] == [1] * cells[0].processes, paid


def test_until_decided_and_a_fixed_process_count_are_exclusive(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    with pytest.raises(UsageError, match="--processes"):
        go(store, Request(suite="smoke", frameworks=["fake"], processes=3, until_decided=True))


def test_a_code_change_starts_a_new_run_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(tmp_path / "r.db")
    first = go(store)
    monkeypatch.setattr(environment, "code_version", lambda: "0.1.0+changed")
    observer = RecordingObserver()
    second = go(store, observer=observer)
    assert second.run_id != first.run_id and second.measured == 4
    notes = [text for kind, text in observer.events if kind == "note"]
    assert any(f"the code changed since run {first.run_id}" in text for text in notes)


def test_a_run_checks_the_pairs_of_the_modes_it_measures_and_verdicts_say_so(
        tmp_path: Path) -> None:
    from dlarena.report.build import build_report

    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"], scenarios=["train"],
                      modes=["all"], min_window_seconds=0.01, windows=3)
    observer = RecordingObserver()
    summary = go(store, request, observer=observer)
    assert ("checking", ("mlp", ["fake/eager", "fake/compiled"])) in observer.events
    [result] = store.parity(summary.run_id)
    assert result.passed and (result.first_label, result.second_label) == (
        "fake/eager", "fake/compiled")
    assert [audit.label for audit in result.audits] == ["fake/eager", "fake/compiled"]
    [verdict] = build_report(store, summary.run_id).groups[0].verdicts
    assert verdict.checked == ("fake/eager vs fake/compiled in float64, their float32 paths "
                               "audited")
    # The same modes again: the check is cached; another mode set is another check.
    again = RecordingObserver()
    go(store, request, observer=again, fresh=True)
    assert next(event for event in again.events if event[0] == "checked")[1][1] is True


def test_a_cell_stops_once_every_pair_it_belongs_to_is_final() -> None:
    """Three frameworks: A-B and A-C decided, B-C open: A stops, B and C run on."""
    from dlarena.analysis.stopping import CONTINUE, DIFFERENT, Look
    from dlarena.engine.runner import PairLook, _still_open

    group = ("mlp", "train", "smoke", 8, "cpu", "")
    decided, open_ = Look(DIFFERENT, 2, (1.2, 1.3), 0.99), Look(CONTINUE, 2, (0.9, 1.1), 0.99)
    looks = [PairLook(group, "a vs b", ("A", "B"), decided),
             PairLook(group, "a vs c", ("A", "C"), decided),
             PairLook(group, "b vs c", ("B", "C"), open_)]
    assert _still_open(looks) == {"B", "C"}
    assert _still_open(looks[:2]) == set()


def test_each_group_s_order_rotates_round_by_round() -> None:
    """Within a round, each group's cells run in a seeded random order rotated by one place
    per round; groups keep their plan order; a resumed run draws the same order."""
    from dlarena.engine.plan import PlannedCell
    from dlarena.engine.runner import in_rotated_order
    from tests.conftest import fake_cell

    cells = [fake_cell(mode=mode, workload=workload)
             for workload in ("mlp", "cnn") for mode in ("eager", "compiled")]

    def order(round_index: int) -> list[tuple[str, str, int | None]]:
        batch = [PlannedCell(cell, round_index) for cell in cells]
        return [(p.cell.workload, p.cell.mode, p.order)
                for p in in_rotated_order(batch, run_id=7, round_index=round_index)]

    first, second = order(0), order(1)
    assert [w for w, _, _ in first] == ["mlp", "mlp", "cnn", "cnn"]
    assert [o for _, _, o in first] == [0, 1, 0, 1]
    assert first[0][1] == second[1][1] and first[1][1] == second[0][1]
    assert order(0) == first and order(2) == first
