"""JSON and CSV carry every figure that the Markdown, terminal and HTML reports show."""

from __future__ import annotations

import csv
import io
import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from dlarena.executors.base import CellOutcome
from dlarena.report import formatting as fmt
from dlarena.report import json as json_report
from dlarena.report import markdown
from dlarena.report.build import build_report
from dlarena.report.model import Report
from dlarena.report.records import render_csv
from dlarena.report.table import HEADER, LATENCY_HEADER
from dlarena.store import Store
from tests.conftest import fake_cell
from tests.report.test_exports import ENV, _cell_outcome, outcome

# Per process: milliseconds of 100 requests, with a slow tail.
FAST = [[0.001 * (1 + i / 100) for i in range(97)] + [0.004, 0.005, 0.009]]
SLOW = [[0.002 * (1 + i / 50) for i in range(98)] + [0.010, 0.020],
        [0.0021 * (1 + i / 50) for i in range(99)] + [0.030]]


def _latency(framework: str, mode: str, requests: list[float]) -> CellOutcome:
    return CellOutcome(
        cell=fake_cell(framework=framework, mode=mode, scenario="latency", batch_size=1),
        status="ok", error=None, stderr_tail="", started_utc="t", wall_seconds=1.0,
        interpreter="python",
        payload={"samples": {"latency_seconds": requests}, "metrics": {"peak_rss_bytes": 2e8},
                 "framework_version": "1", "warmup": []})


@pytest.fixture
def report(tmp_path: Path) -> Report:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    for process, requests in enumerate(FAST):
        store.save(run_id, _latency("torch", "eager", requests), process=process)
    for process, requests in enumerate(SLOW):
        store.save(run_id, _latency("tensorflow", "function", requests), process=process)
    store.save(run_id, outcome("torch", "eager", 0.5), process=0)
    store.save(run_id, outcome("tensorflow", "function", 1.0), process=0)
    built = build_report(store, run_id)
    store.close()
    return built


def _markdown_table(text: str, header: tuple[str, ...]) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = lines.index("| " + " | ".join(header) + " |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (v.strip() for v in line.strip("|").split(" | ")),
                             strict=True)))
    return rows


def _json_cell(document: dict[str, Any], label: str, scenario: str) -> dict[str, Any]:
    [cell] = [c for c in document["cells"]
              if f"{c['framework']}/{c['mode']}" == label and c["scenario"] == scenario]
    return cell


def _csv_row(report: Report, label: str, scenario: str, metric: str) -> dict[str, str]:
    [row] = [r for r in csv.DictReader(io.StringIO(render_csv(report)))
             if f"{r['framework']}/{r['mode']}" == label and r["scenario"] == scenario
             and r["metric"] == metric]
    return row


def _ms(value: float | str) -> str:
    return f"{1e3 * float(value):.3g} ms"


def test_every_latency_figure_of_the_markdown_is_in_the_json_and_the_csv(
        report: Report) -> None:
    shown = _markdown_table(markdown.render(report), LATENCY_HEADER)
    assert [row["framework"] for row in shown] == ["torch/eager", "tensorflow/function"]
    assert shown[1]["requests"] == "200"  # two processes pooled
    assert shown[0]["p99"] != shown[0]["p90"] != shown[0]["p50"]  # the tail is not the median
    document = json.loads(json_report.render(report))
    for row in shown:
        latency = _json_cell(document, row["framework"], "latency")["metrics"][
            "latency_seconds"]
        csv_row = _csv_row(report, row["framework"], "latency", "latency_seconds")
        for column, field in (("p50", "median"), ("p90", "p90"), ("p99", "p99"),
                              ("max", "max")):
            assert _ms(latency[field]) == row[column], column
            assert _ms(csv_row[field]) == row[column], column
        assert str(latency["n"]) == csv_row["n"] == row["requests"]


def test_every_figure_of_the_cell_table_is_in_the_json_and_the_csv(report: Report) -> None:
    shown = _markdown_table(markdown.render(report), HEADER)
    document = json.loads(json_report.render(report))
    for row in shown:
        cell = _json_cell(document, row["framework"], row["scenario"])
        metric = cell["headline"]
        figures = cell["metrics"][metric]
        csv_row = _csv_row(report, row["framework"], row["scenario"], metric)
        assert fmt.number(figures["median"]) == fmt.number(float(csv_row["median"])) == \
            row["median"]
        assert figures["unit"] == csv_row["unit"] == row["unit"]
        assert fmt.interval((figures["ci_low"], figures["ci_high"])) == row["95% CI"]
        assert fmt.interval((float(csv_row["ci_low"]), float(csv_row["ci_high"]))) == \
            row["95% CI"]
        assert fmt.percent(figures["cv"]) == fmt.percent(float(csv_row["cv"])) == row["CV"]
        assert str(figures["n"]) == csv_row["n"] == row["n"]
        between = csv_row["between_process_cv"]
        assert fmt.percent(cell["between_process_cv"]) == row["CV procs"] == fmt.percent(
            float(between) if between else None)
        assert f"{cell['ratio_to_first']:.2f}x" == f"{float(csv_row['ratio_to_first']):.2f}x" \
            == row["vs first"]
        rss = cell["metrics"]["peak_rss_bytes"]["median"]
        assert fmt.mebibytes(rss) == row["peak RSS"]
    vs_first = {(row["framework"], row["scenario"]): row["vs first"] for row in shown}
    assert vs_first[("tensorflow/function", "train")] == "0.50x"
    slower = statistics.median(SLOW[0] + SLOW[1]) / statistics.median(FAST[0])
    assert vs_first[("tensorflow/function", "latency")] == f"{slower:.2f}x"


def test_verdicts_say_which_group_they_compare(report: Report) -> None:
    document = json.loads(json_report.render(report))
    places = {(v["scenario"], v["batch_size"], v["size"], v["device"])
              for v in document["verdicts"]}
    assert places == {("latency", 1, "smoke", "cpu"), ("train", 8, "smoke", "cpu")}
    assert {v["comparable"] for v in document["verdicts"]} == {True}
    # Checks are per framework/mode since every measured mode is checked.
    assert document["unchecked_pairs"] == [{"workload": "mlp", "first": "torch/eager",
                                            "second": "tensorflow/function"}]


def test_sweeps_and_break_even_are_in_the_json(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    for framework, mode, batch, seconds in (("torch", "eager", 1, 0.01),
                                            ("tensorflow", "function", 1, 0.02),
                                            ("torch", "eager", 32, 0.4),
                                            ("tensorflow", "function", 32, 0.2)):
        store.save(run_id, _cell_outcome(framework, mode, "infer", batch, seconds=seconds),
                   process=0)
    store.save(run_id, _cell_outcome("torch", "eager", "startup", 64, first_result=2.0),
               process=0)
    store.save(run_id, _cell_outcome("torch", "compile", "startup", 64, first_result=22.0),
               process=0)
    store.save(run_id, _cell_outcome("torch", "eager", "train", 64, seconds=1.0), process=0)
    store.save(run_id, _cell_outcome("torch", "compile", "train", 64, seconds=0.5), process=0)
    document = json.loads(json_report.render(build_report(store, run_id)))
    [sweep] = document["sweeps"]
    assert sweep["batch_sizes"] == [1, 32] and sweep["unit"] == "samples/s"
    assert sweep["crossovers"] == [{"before": "torch/eager", "after": "tensorflow/function",
                                    "below": 1, "above": 32}]
    [item] = document["break_evens"]
    assert (item["candidate"], item["baseline"], item["steps"]) == (
        "torch/compile", "torch/eager", 400)
    assert item["extra_start_seconds"] == pytest.approx(20.0)
    assert item["baseline_step_seconds"] == pytest.approx(0.1, rel=0.02)
