"""Reports read units, FLOPs, modes and colours from the run's stored definitions, not today's
code; a run stored before definitions were stored is reported with today's, and says so."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dlarena import registry
from dlarena.report import html, markdown, terminal
from dlarena.report import json as json_report
from dlarena.report.build import build_report
from dlarena.report.facts import (
    VERDICT_RULES_VERSION,
    Definitions,
    FrameworkDefinition,
    WorkloadDefinition,
)
from dlarena.report.model import DEFINITIONS_FROM_CODE, Report
from dlarena.report.records import render_csv
from dlarena.store import Store
from tests.report.test_reports import _ok

STEADY = [[100, 1.0], [100, 1.01], [100, 0.99], [100, 1.0]]
SLOWER = [[100, 2.0], [100, 2.02], [100, 1.98], [100, 2.0]]


def _stored_elsewhere() -> Definitions:
    """Today's definitions as another version of the code had them: mlp counts widgets, and
    the fake framework's default mode is its compiled one, drawn in another colour."""
    today = Definitions.current()
    mlp = dataclasses.replace(today.workloads["mlp"], unit="widgets")
    fake = FrameworkDefinition(default_mode="compiled", eager_mode="eager", colour="#123456")
    return Definitions({**today.workloads, "mlp": mlp}, {**today.frameworks, "fake": fake},
                       VERDICT_RULES_VERSION)


def _report(tmp_path: Path, definitions: dict[str, Any] | None) -> Report:
    store = Store.open(tmp_path / "r.db")
    environment: dict[str, Any] = {"created_utc": "2026-11-23T00:00:00+00:00"}
    if definitions is not None:
        environment["definitions"] = definitions
    run_id = store.create_run(plan_key="k", command="dlarena run", environment=environment)
    store.save(run_id, _ok("1", STEADY, mode="compiled"), process=0)
    store.save(run_id, _ok("1", SLOWER, mode="eager"), process=0)
    report = build_report(store, run_id)
    store.close()
    return report


def _terminal(report: Report) -> str:
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=250, color_system=None))
    return buffer.getvalue()


def test_today_s_definitions_cover_the_registry_and_survive_json() -> None:
    today = Definitions.current()
    assert set(today.workloads) == set(registry.workloads())
    assert set(today.frameworks) == set(registry.frameworks())
    assert today.verdict_rules == VERDICT_RULES_VERSION == "5"
    text = json.dumps(today.to_json())  # plain JSON: the run stores it in its environment
    assert Definitions.from_json(json.loads(text)) == today
    tokens = [w for w in today.workloads.values() if w.unit == "tokens"]
    assert len(tokens) >= 2 and all(w.items_per_sample["smoke"] > 1 for w in tokens)


def test_a_stored_run_is_reported_with_its_own_definitions(tmp_path: Path) -> None:
    stored = _stored_elsewhere()
    assert stored != Definitions.current()
    report = _report(tmp_path, stored.to_json())
    assert report.definitions == stored and report.definitions_stored
    assert all(cell.definitions == stored for cell in report.cells)
    assert report.definitions_notes == []
    compiled, eager = sorted(report.cells, key=lambda cell: cell.stored.spec.mode)
    assert compiled.in_default_mode and not eager.in_default_mode

    text = markdown.render(report)
    assert "| widgets/s |" in text and "samples/s" not in text
    assert DEFINITIONS_FROM_CODE not in text
    assert "widgets/s" in _terminal(report)
    document = json.loads(json_report.render(report))
    assert {cell["metrics"]["train_throughput"]["unit"] for cell in document["cells"]} == {
        "widgets/s"}
    assert document["definitions"]["stored_with_run"] is True
    assert document["definitions"]["workloads"]["mlp"]["unit"] == "widgets"
    assert "definitions" not in document["run"]["environment"]  # once, not twice
    rows = csv.DictReader(io.StringIO(render_csv(report)))
    assert {row["unit"] for row in rows if row["metric"] == "train_throughput"} == {"widgets/s"}
    page = html.render(report)
    assert "#123456" in page  # the stored colour, in the figures
    assert "stored with the run: " in page


def test_an_old_run_falls_back_to_today_s_definitions_and_says_so(tmp_path: Path) -> None:
    report = _report(tmp_path, None)
    assert report.definitions == Definitions.current() and not report.definitions_stored
    assert report.definitions_notes == [DEFINITIONS_FROM_CODE]
    assert DEFINITIONS_FROM_CODE == ("definitions read from today's code: this run predates "
                                     "stored definitions")
    assert "samples/s" in markdown.render(report)
    assert markdown.render(report).count(DEFINITIONS_FROM_CODE) == 1
    assert DEFINITIONS_FROM_CODE in _terminal(report).replace("\n", "")
    page = html.render(report)
    assert page.count(DEFINITIONS_FROM_CODE.replace("'", "&#39;")) == 2  # header, environment
    document = json.loads(json_report.render(report))
    assert document["definitions"]["stored_with_run"] is False
    assert document["notes"] == [DEFINITIONS_FROM_CODE]


def test_a_run_stored_under_other_verdict_rules_says_so(tmp_path: Path) -> None:
    older = dataclasses.replace(Definitions.current(), verdict_rules="1")
    [note] = _report(tmp_path, older.to_json()).definitions_notes
    assert note == ("verdicts by today's rules 5 (each pair on its own rounds (a paired t "
                    "interval on the rounds' log ratios of process medians, no noise borrowed "
                    "from other workloads), frameworks in an order rotated each round, final at "
                    "the pair's first decisive look, no meaningful difference by two one-sided "
                    "tests at the stated margin); the run was stored under rules 1 (percentile "
                    "bootstrap over the pooled samples)")


def test_a_workload_or_framework_the_definitions_lack_gets_neutral_answers() -> None:
    empty = Definitions({}, {}, VERDICT_RULES_VERSION)
    from tests.conftest import fake_cell

    cell = fake_cell(workload="gone", batch_size=8)
    assert empty.unit("train_throughput", "gone") == "samples/s"
    assert empty.quality("gone") == "accuracy"
    assert empty.items_per_step(cell) == 8
    assert empty.achieved_gflops(cell, "train_throughput", 100.0) is None
    assert empty.default_mode("gone") is None and empty.colour("gone") is None


@pytest.mark.parametrize(("change", "message"), [
    ({"format": 99}, "format 99"),
    ({"workloads": []}, "workloads must be an object"),
    ({"workloads": {"mlp": {"unit": 3}}}, "mlp's unit must be a string"),
    ({"frameworks": {"fake": {"default_mode": "eager", "eager_mode": 1}}},
     "fake's eager_mode must be a string"),
])
def test_stored_definitions_that_are_not_a_snapshot_are_refused(
        change: dict[str, Any], message: str) -> None:
    snapshot = Definitions({"mlp": WorkloadDefinition("samples", "accuracy", {}, {}, {})}, {},
                           "2").to_json()
    with pytest.raises(ValueError, match=message):
        Definitions.from_json({**snapshot, **change})
