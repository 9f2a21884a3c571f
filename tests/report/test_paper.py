"""The published-table comparison: units, ratios beside the paper's, GFLOP/s against the peak."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlarena import registry
from dlarena.report import markdown
from dlarena.report.build import build_report
from dlarena.report.model import Report
from dlarena.report.paper import paper_rows, paper_table
from dlarena.report.published import PASZKE_2019
from dlarena.store import Store
from tests.report.test_reports import _ok


def _ncf_run(tmp_path: Path, peak: float | None = 100.0) -> Report:
    store = Store.open(tmp_path / "r.db")
    environment = {"created_utc": "2026-11-23T00:00:00+00:00"}
    if peak is not None:
        environment["matmul_peak_gflops"] = peak
    run_id = store.create_run(plan_key="k", command="dlarena run --suite paper",
                              environment=environment)
    # 100 steps of batch 256 in ~1 s vs ~2 s: torch twice as fast.
    fast = [[100, 1.0], [100, 1.01], [100, 0.99]]
    slow = [[100, 2.0], [100, 2.02], [100, 1.98]]
    for framework, mode, windows in (("torch", "eager", fast),
                                     ("tensorflow", "function", slow)):
        store.save(run_id, _ok("1", windows, workload="ncf", framework=framework, mode=mode,
                               batch_size=256), process=0)
    report = build_report(store, run_id)
    store.close()
    return report


def test_measured_ratio_sits_beside_the_published_one(tmp_path: Path) -> None:
    [row] = paper_rows(_ncf_run(tmp_path))
    assert row.column == "NCF" and row.unit == "samples/s"
    assert row.measured["torch"] == pytest.approx(25_600)
    assert row.verdict is not None and row.verdict.ratio == pytest.approx(2.0)
    assert row.published_ratio == pytest.approx(5.4e6 / 4.8e6)


def test_gflops_come_from_the_workloads_flops_and_the_peak_bounds_them(tmp_path: Path) -> None:
    report = _ncf_run(tmp_path, peak=100.0)
    torch_cell = next(c for c in report.cells if c.stored.spec.framework == "torch")
    ncf = registry.workloads()["ncf"]
    expected = 25_600 * ncf.train_flops("smoke") / 1e9
    assert torch_cell.achieved_gflops == pytest.approx(expected)
    [line] = paper_table(report)
    assert line[-1].startswith(f"{expected / 100.0:.1%}")
    rendered = markdown.render(report)
    assert "Beside the published table" in rendered and PASZKE_2019.hardware in rendered


def test_no_peak_recorded_shows_a_dash_not_a_made_up_percentage(tmp_path: Path) -> None:
    [line] = paper_table(_ncf_run(tmp_path, peak=None))
    assert line[-1] == "– · –"


def test_token_workloads_count_tokens_not_sequences(tmp_path: Path) -> None:
    from dlarena.report.facts import items_per_step, unit
    from tests.conftest import fake_cell

    lstm = fake_cell(workload="lstm")
    assert unit("train_throughput", "lstm") == "samples/s"
    assert items_per_step(lstm) == lstm.batch_size
    tokens = [name for name, workload in registry.workloads().items() if workload.unit == "tokens"]
    assert {"gnmt", "transformer"} <= set(tokens)
    for name in tokens:
        workload = registry.workloads()[name]
        cell = fake_cell(workload=name, size="smoke")
        assert items_per_step(cell) == cell.batch_size * workload.items_per_sample("smoke")
        assert workload.items_per_sample("smoke") > 1
