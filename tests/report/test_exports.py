"""CSV, pandas, HTML (as text), claims and run comparison, from stored fake runs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from dlarena.api import results_frame
from dlarena.errors import UsageError
from dlarena.executors.base import CellOutcome
from dlarena.report import html
from dlarena.report.build import build_report
from dlarena.report.claims import CLAIMS, DOES_NOT_HOLD, HOLDS, NOT_MEASURED, judge_all
from dlarena.report.compare import compare_runs
from dlarena.report.records import COLUMNS, render_csv
from dlarena.store import Store
from tests.conftest import fake_cell, require

ENV = {"created_utc": "2026-11-23T00:00:00+00:00", "cpu_model": "A", "threads": {"intra_op": 1}}


def outcome(framework: str, mode: str, seconds: float, scenario: str = "train",
            rss: float = 2.0**28, workload: str = "mlp") -> CellOutcome:
    windows = [[100, seconds * f] for f in (1.0, 1.01, 0.99, 1.005, 0.995)]
    return CellOutcome(
        cell=fake_cell(framework=framework, mode=mode, scenario=scenario, workload=workload),
        status="ok",
        error=None, stderr_tail="", started_utc="t", wall_seconds=1.0, interpreter="python",
        payload={"throughput_metric": f"{scenario}_throughput", "windows": windows,
                 "warmup": [], "metrics": {"peak_rss_bytes": rss}, "framework_version": "1"},
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    # torch trains 2x faster; tensorflow infers 2x faster; memory: one process each
    store.save(run_id, outcome("torch", "eager", 0.5), process=0)
    store.save(run_id, outcome("tensorflow", "function", 1.0), process=0)
    store.save(run_id, outcome("torch", "eager", 1.0, "infer"), process=0)
    store.save(run_id, outcome("tensorflow", "function", 0.5, "infer"), process=0)
    return store


def test_claims_are_judged_from_the_verdicts(store: Store) -> None:
    results = {r.claim.id: r for r in judge_all(build_report(store))}
    assert set(results) == {claim.id for claim in CLAIMS}
    assert results["pytorch-more-efficient"].status == HOLDS
    assert results["tensorflow-production-performance"].status == HOLDS
    assert results["tensorflow-less-ram-training"].status == "too few samples"
    assert results["same-accuracy"].status == NOT_MEASURED
    evidence = results["pytorch-more-efficient"].evidence[0]
    assert evidence.anchor == "workload-mlp" and "2.00x faster" in evidence.verdict.text


def test_a_claim_the_run_contradicts_does_not_hold(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    store.save(run_id, outcome("torch", "eager", 1.0), process=0)
    store.save(run_id, outcome("tensorflow", "function", 0.5), process=0)
    results = {r.claim.id: r for r in judge_all(build_report(store))}
    assert results["pytorch-more-efficient"].status == DOES_NOT_HOLD


def test_csv_has_one_row_per_cell_and_metric(store: Store) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(build_report(store)))))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 4 * 2  # throughput + peak RSS per cell
    torch_train = [r for r in rows if r["framework"] == "torch" and r["metric"] ==
                   "train_throughput"]
    assert float(torch_train[0]["median"]) == pytest.approx(8 * 100 / 0.5, rel=0.01)


def test_results_frame_matches_the_csv(store: Store) -> None:
    require("pandas")
    frame = results_frame(store.path)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 8
    assert set(frame.metric) == {"train_throughput", "infer_throughput", "peak_rss_bytes"}


def test_results_frame_without_a_store_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no results database"):
        results_frame(tmp_path / "none.db")


def test_html_is_self_contained_with_every_section(store: Store) -> None:
    page = html.render(build_report(store))
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<figure class=\"plot\">") == 2  # mlp throughput, memory
    for anchor in ("verdicts", "claims", "throughput", "memory", "parity",
                   "environment", "problems", "workload-mlp", "claim-pytorch-more-efficient"):
        assert f'id="{anchor}"' in page
    assert "<script" not in page


def test_compare_runs_finds_the_change_and_warns_about_the_environment(store: Store) -> None:
    second = store.create_run(plan_key="k2", command="c",
                              environment={**ENV, "cpu_model": "B"})
    store.save(second, outcome("torch", "eager", 0.25), process=0)  # 2x faster than before
    store.save(second, outcome("tensorflow", "function", 1.0), process=0)  # unchanged
    result = compare_runs(store, 1, second)
    assert result.environment_differences == ["cpu_model: 'A' → 'B'"]
    [faster] = [c for c in result.significant if c.metric == "train_throughput"]
    assert faster.label.startswith("mlp · torch/eager · train")
    assert faster.verdict.text.startswith("run 2 is 2.00x faster than run 1")
    unchanged = [c for c in result.changes if c.label.startswith("mlp · tensorflow")
                 and c.metric == "train_throughput"]
    assert not unchanged[0].verdict.significant
    assert len(result.only_first) == 2  # the infer cells


def _cell_outcome(framework: str, mode: str, scenario: str, batch: int, *, seconds: float = 1.0,
                  first_result: float | None = None) -> CellOutcome:
    payload: dict[str, object] = {"metrics": {"peak_rss_bytes": 1.0}, "warmup": []}
    if scenario == "startup":
        payload["metrics"] = {"time_to_first_result_seconds": first_result}
    else:
        payload.update(throughput_metric=f"{scenario}_throughput",
                       windows=[[10, seconds * f] for f in (1.0, 1.01, 0.99)])
    return CellOutcome(cell=fake_cell(framework=framework, mode=mode, scenario=scenario,
                                      batch_size=batch), status="ok", error=None,
                       payload=payload, stderr_tail="", started_utc="t", wall_seconds=1.0,
                       interpreter="python")


def test_sweeps_name_crossovers_and_break_even_counts_steps(tmp_path: Path) -> None:
    from dlarena.report.table import break_even_lines, sweep_lines

    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    # torch leads at batch 1, tensorflow from batch 32 (windows of 10 steps)
    for framework, mode, batch, seconds in (("torch", "eager", 1, 0.01),
                                            ("tensorflow", "function", 1, 0.02),
                                            ("torch", "eager", 32, 0.4),
                                            ("tensorflow", "function", 32, 0.2)):
        store.save(run_id, _cell_outcome(framework, mode, "infer", batch, seconds=seconds), process=0)
    # compiled: 20 s more to start, 0.05 s instead of 0.1 s per step -> repaid after 400 steps
    store.save(run_id, _cell_outcome("torch", "eager", "startup", 64, first_result=2.0), process=0)
    store.save(run_id, _cell_outcome("torch", "compile", "startup", 64, first_result=22.0), process=0)
    store.save(run_id, _cell_outcome("torch", "eager", "train", 64, seconds=1.0), process=0)
    store.save(run_id, _cell_outcome("torch", "compile", "train", 64, seconds=0.5), process=0)
    report = build_report(store, run_id)
    assert sweep_lines(report) == [
        "mlp infer (samples/s): torch/eager leads up to batch 1, tensorflow/function from batch 32"]
    [line] = break_even_lines(report)
    assert line.endswith("repaid after 400 steps")
    assert line.startswith("mlp: torch/compile needs +20.00 s to a first result vs torch/eager")
