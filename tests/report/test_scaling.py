"""Data-parallel scaling efficiency: N ranks' throughput over N x one rank's, per framework,
with the ratio's interval; in every report format; a failed check says so."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from dlarena.executors.base import CellOutcome
from dlarena.report import html as html_report
from dlarena.report import json as json_report
from dlarena.report import markdown, scaling, terminal
from dlarena.report.build import build_report
from dlarena.report.model import Report
from dlarena.store import Store
from tests.conftest import fake_cell


def _ddp(framework: str, ranks: int, seconds: float, *, same: float = 1.0) -> CellOutcome:
    windows = [[100, seconds], [100, seconds * 1.01], [100, seconds * 0.99]]
    return CellOutcome(
        cell=fake_cell(framework=framework, mode="eager", scenario="train-ddp",
                       options={"ranks": ranks}),
        status="ok", error=None,
        payload={"throughput_metric": "train_throughput", "windows": windows, "warmup": [],
                 "metrics": {"ranks": float(ranks), "data_parallel_same_model": same,
                             "data_parallel_weight_difference": 1e-15 if same else 0.3},
                 "framework_version": "1", "clock_resolution": 1e-9, "warmup_capped": False},
        stderr_tail="", started_utc="2026-12-06T00:00:00+00:00", wall_seconds=1.0,
        interpreter="python")


def _report(tmp_path: Path, *, torch_same: float = 1.0) -> Report:
    """torch: 2 ranks 1.5x one rank (efficiency 0.75), over four rounds with drift; jax:
    2 ranks as fast as one (0.5)."""
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment={
        "created_utc": "2026-12-06T00:00:00+00:00"})
    for process, drift in enumerate((1.0, 1.3, 0.9, 1.1)):
        store.save(run_id, _ddp("torch", 1, 1.0 * drift), process=process)
        store.save(run_id, _ddp("torch", 2, drift / (1.5 * (1 + 0.02 * (-1) ** process)),
                                same=torch_same), process=process)
        store.save(run_id, _ddp("jax", 1, 1.0 * drift), process=process)
        store.save(run_id, _ddp("jax", 2, 1.0 * drift), process=process)
    report = build_report(store, run_id)
    store.close()
    return report


def test_efficiency_is_n_ranks_over_n_times_one_rank_paired_over_rounds(
        tmp_path: Path) -> None:
    found = {s.variant: s for s in scaling.scalings(_report(tmp_path))}
    assert set(found) == {"torch/eager", "jax/eager"}
    torch, jax = found["torch/eager"], found["jax/eager"]
    assert torch.ranks == 2 and torch.efficiency == pytest.approx(0.75, rel=0.01)
    assert torch.interval is not None
    # Paired over rounds the drift cancels: a narrow interval around 0.75.
    assert 0.70 < torch.interval[0] < 0.75 < torch.interval[1] < 0.80
    assert jax.efficiency == pytest.approx(0.5, rel=1e-6) and torch.failed is None


def test_every_format_shows_the_table_and_html_the_figure(tmp_path: Path) -> None:
    report = _report(tmp_path)
    assert "## Data-parallel scaling" in markdown.render(report)
    assert "| mlp | torch/eager | 2 |" in markdown.render(report)
    page = html_report.render(report)
    section = page[page.index('id="scaling"'):]
    assert "<svg" in section[:section.index("</section>")]
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=200, color_system=None))
    assert "Data-parallel scaling" in buffer.getvalue()
    document = json.loads(json_report.render(report))
    assert {row["variant"]: round(row["efficiency"], 2) for row in document["scaling"]} == {
        "torch/eager": 0.75, "jax/eager": 0.5}


def test_a_failed_check_is_named_beside_the_efficiency(tmp_path: Path) -> None:
    rows = {row[1]: row for row in scaling.rows(_report(tmp_path, torch_same=0.0))}
    assert rows["torch/eager"][-1].startswith("no: torch/eager ×2's ranks failed")
    assert rows["jax/eager"][-1] == "yes"


def test_ranks_keeping_batchnorm_statistics_differently_are_not_compared(
        tmp_path: Path) -> None:
    from dlarena.scenarios.data_parallel import BATCHNORM_KEY, GLOBAL_BATCH, PER_RANK, SAME_STEP

    def cell(framework: str, statistics: str, seconds: float) -> CellOutcome:
        outcome = _ddp(framework, 2, seconds)
        outcome.payload["manifest"] = {BATCHNORM_KEY: statistics}
        return outcome

    for torch_kept, jax_kept, comparable in ((PER_RANK, GLOBAL_BATCH, False),
                                              (PER_RANK, PER_RANK, True),
                                              (SAME_STEP, SAME_STEP, True)):
        store = Store.open(tmp_path / f"{torch_kept}-{jax_kept}.db")
        run_id = store.create_run(plan_key="k", command="dlarena run", environment={
            "created_utc": "2026-12-06T00:00:00+00:00"})
        store.save(run_id, cell("torch", torch_kept, 0.5), process=0)
        store.save(run_id, cell("jax", jax_kept, 1.0), process=0)
        report = build_report(store, run_id)
        store.close()
        [verdict] = report.groups[0].verdicts
        assert verdict.comparable == comparable, verdict.text
        if not comparable:
            assert verdict.text == (
                "not comparable: different data-parallel models: torch/eager ×2 keeps "
                "BatchNorm statistics per rank, jax/eager ×2 keeps BatchNorm statistics of "
                "the global batch")
