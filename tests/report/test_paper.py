"""The published-table comparison: frameworks as rows, models as columns, the paper's figures
under the measured ones, ratios against a reference beside the paper's, GFLOP/s against the peak."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from dlarena.parity.compare import Check, ParityResult
from dlarena.report import html, markdown, terminal
from dlarena.report import json as json_report
from dlarena.report.build import build_report
from dlarena.report.facts import Definitions, default_mode
from dlarena.report.model import Report
from dlarena.report.paper import PaperTable, paper_document, paper_note, paper_table
from dlarena.report.published import PASZKE_2019
from dlarena.store import Store
from tests.report.test_reports import _ok

# 100 steps of batch 256 in ~1 s, ~2 s and ~4 s: 25.6k, 12.8k and 6.4k samples/s.
FAST = [[100, 1.0], [100, 1.01], [100, 0.99]]
SLOW = [[100, 2.0], [100, 2.02], [100, 1.98]]
SLOWER = [[100, 4.0], [100, 4.04], [100, 3.96]]
TWO = {"torch": FAST, "tensorflow": SLOW}
THREE = {**TWO, "fake": SLOWER}  # "fake" has no row in the published table


def _run(tmp_path: Path, windows: dict[str, list[list[float]]], peak: float | None = 100.0,
         workloads: tuple[str, ...] = ("ncf",), parity: ParityResult | None = None,
         definitions: Definitions | None = None) -> Report:
    """Each framework trains each workload in its default mode."""
    store = Store.open(tmp_path / "r.db")
    environment: dict[str, object] = {"created_utc": "2026-11-23T00:00:00+00:00"}
    if peak is not None:
        environment["matmul_peak_gflops"] = peak
    if definitions is not None:
        environment["definitions"] = definitions.to_json()
    run_id = store.create_run(plan_key="k", command="dlarena run --suite paper",
                              environment=environment)
    for workload in workloads:
        for framework, framework_windows in windows.items():
            store.save(run_id, _ok("1", framework_windows, workload=workload,
                                   framework=framework, mode=default_mode(framework),
                                   batch_size=256), process=0)
    if parity is not None:
        store.save_parity(run_id, "v", parity)
    report = build_report(store, run_id)
    store.close()
    return report


def _table(report: Report, reference: str | None = None) -> PaperTable:
    table = paper_table(report, reference=reference)
    assert table is not None
    return table


def _row(lines: tuple[tuple[str, tuple[str, ...]], ...], label: str) -> tuple[str, ...]:
    return dict(lines)[label]


def test_measured_ratio_sits_beside_the_published_one(tmp_path: Path) -> None:
    table = _table(_run(tmp_path, TWO))
    assert table.reference == PASZKE_2019.reference == "torch"
    assert table.columns == ("NCF",) and table.header == ("", "NCF (samples/s)")
    assert table.rows[:4] == (("torch (here)", ("25.6k",)), ("torch (paper)", ("5.4M ± 3.4%",)),
                              ("tensorflow (here)", ("12.8k",)),
                              ("tensorflow (paper)", ("4.8M ± 2.9%",)))
    [(label, (measured,)), (paper_label, (published,))] = table.ratio_rows
    assert label == "tensorflow / torch (here, 95% CI)"
    low, high = measured.removeprefix("0.50 (").removesuffix(")").split("–")
    assert float(low) <= 0.5 <= float(high)
    assert paper_label == "tensorflow / torch (paper)"
    assert published == "0.89"  # 4.8M / 5.4M


def test_columns_follow_the_published_order_and_only_measured_models(tmp_path: Path) -> None:
    table = _table(_run(tmp_path, TWO, workloads=("ncf", "alexnet")))
    assert table.columns == ("AlexNet", "NCF")
    assert table.header == ("", "AlexNet (images/s)", "NCF (samples/s)")
    assert _row(table.rows, "torch (paper)")[0] == "1.55k ± 316"


def test_every_measured_framework_gets_a_row_and_the_paper_only_under_its_own(
        tmp_path: Path) -> None:
    table = _table(_run(tmp_path, THREE))
    assert table.frameworks == ("torch", "tensorflow", "fake")
    assert [label for label, _ in table.rows] == [
        "torch (here)", "torch (paper)", "tensorflow (here)", "tensorflow (paper)", "fake (here)",
        *UNMEASURED_LABELS]
    assert _row(table.rows, "fake (here)") == ("6.4k",)
    assert [label for label, _ in table.ratio_rows] == [
        "tensorflow / torch (here, 95% CI)", "tensorflow / torch (paper)",
        "fake / torch (here, 95% CI)"]
    assert _row(table.ratio_rows, "fake / torch (here, 95% CI)")[0].startswith("0.25 (")


def test_another_reference_puts_the_ratios_against_it(tmp_path: Path) -> None:
    table = _table(_run(tmp_path, THREE), reference="tensorflow")
    assert table.frameworks == ("tensorflow", "torch", "fake")
    assert _row(table.ratio_rows, "torch / tensorflow (here, 95% CI)")[0].startswith("2.00 (")
    assert _row(table.ratio_rows, "torch / tensorflow (paper)") == ("1.12",)  # 5.4M / 4.8M
    assert _row(table.ratio_rows, "fake / tensorflow (here, 95% CI)")[0].startswith("0.50 (")
    assert "ratios against tensorflow" in paper_note(_run(tmp_path / "b", THREE),
                                                       reference="tensorflow")


def test_an_unmeasured_reference_leaves_the_ratios_blank_and_says_why(tmp_path: Path) -> None:
    report = _run(tmp_path, TWO)
    table = _table(report, reference="jax")
    measured = [cells for label, cells in table.ratio_rows if "(here" in label]
    assert measured == [("–",), ("–",)]
    note = paper_note(report, reference="jax")
    assert "The reference asked for, jax, was not measured by this run" in note


def test_frameworks_that_failed_the_same_model_check_are_not_compared(tmp_path: Path) -> None:
    parity = ParityResult("ncf", "smoke", "torch", "tensorflow",
                          (Check("forward (inference mode)", False, "first difference"),))
    table = _table(_run(tmp_path, TWO, parity=parity))
    assert _row(table.ratio_rows, "tensorflow / torch (here, 95% CI)") == ("not comparable",)


def _with_ncf(**changes: object) -> Definitions:
    """Today's definitions with NCF's replaced by literal figures."""
    today = Definitions.current()
    ncf = dataclasses.replace(today.workloads["ncf"], **changes)
    return dataclasses.replace(today, workloads={**today.workloads, "ncf": ncf})


def test_gflops_come_from_the_stored_flops_and_the_peak_bounds_them(tmp_path: Path) -> None:
    # 25.6k samples/s x 10^6 FLOPs per training sample (3x the forward pass's 1/3 x 10^6).
    definitions = _with_ncf(forward_flops={"smoke": 333_333}, train_flops={"smoke": 10**6})
    report = _run(tmp_path, TWO, peak=100.0, definitions=definitions)
    torch_cell = next(c for c in report.cells if c.stored.spec.framework == "torch")
    assert torch_cell.achieved_gflops == pytest.approx(25.6, rel=0.01)
    table = _table(report)
    assert table.gflops_header == ("model", "size · batch", "torch GFLOP/s", "torch % of peak",
                                   "tensorflow GFLOP/s", "tensorflow % of peak")
    [(model, batch, gflops, share, tf_gflops, tf_share)] = table.gflops_rows
    assert (model, batch) == ("NCF", "smoke · 256")
    assert (gflops, share, tf_gflops, tf_share) == ("25.6", "25.6%", "12.8", "12.8%")


def test_no_peak_recorded_shows_a_dash_not_a_made_up_percentage(tmp_path: Path) -> None:
    [(_, _, gflops, share, _, tf_share)] = _table(_run(tmp_path, TWO, peak=None)).gflops_rows
    assert gflops != "–" and share == tf_share == "–"


def test_every_renderer_shows_the_table_with_the_reference_asked_for(tmp_path: Path) -> None:
    report = _run(tmp_path, THREE)
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=250, color_system=None),
                    reference="tensorflow")
    printed = buffer.getvalue()
    assert "torch / tensorflow (here, 95% CI)" in printed and "│ NCF " in printed
    assert "fake (here)" in printed and "ratios against tensorflow" in printed
    text = markdown.render(report)
    assert "| torch (paper) | 5.4M ± 3.4% |" in text and PASZKE_2019.hardware in text
    assert "| fake / torch (here, 95% CI) | 0.25 (" in text
    page = html.render(report, reference="fake")
    assert '<th scope="row">torch / fake (here, 95% CI)</th><td class="num">4.00 (' in page
    assert "<th>NCF (samples/s)</th>" in page


def test_token_workloads_count_tokens_not_sequences(tmp_path: Path) -> None:
    # 25.6k tokens/s of 16 tokens per sample is 1.6k samples/s; x 10^6 FLOPs = 1.6 GFLOP/s.
    definitions = _with_ncf(unit="tokens", items_per_sample={"smoke": 16},
                            train_flops={"smoke": 10**6})
    report = _run(tmp_path, TWO, definitions=definitions)
    assert _table(report).header == ("", "NCF (tokens/s)")
    torch_cell = next(c for c in report.cells if c.stored.spec.framework == "torch")
    assert torch_cell.achieved_gflops == pytest.approx(1.6, rel=0.01)
    assert definitions.items_per_step(torch_cell.stored.spec) == 256 * 16


def test_the_json_carries_the_table_as_numbers(tmp_path: Path) -> None:
    document = json.loads(json_report.render(_run(tmp_path, THREE), reference="tensorflow"))
    paper = document["paper"]
    assert (paper["source"], paper["reference"], paper["metric"]) == (
        PASZKE_2019.id, "tensorflow", "train_throughput")
    [ncf] = paper["models"]
    assert (ncf["name"], ncf["unit"], ncf["size"], ncf["batch_size"]) == (
        "NCF", "samples/s", "smoke", 256)
    assert list(ncf["frameworks"]) == ["tensorflow", "torch", "fake"]
    torch, fake = ncf["frameworks"]["torch"], ncf["frameworks"]["fake"]
    assert torch["median"] == pytest.approx(25_600)
    assert (torch["published"], torch["published_spread"]) == (5.4e6, "± 3.4%")
    ratio = torch["ratio_to_reference"]
    assert ratio["ratio"] == pytest.approx(2.0) and ratio["ci_low"] <= 2.0 <= ratio["ci_high"]
    assert ratio["comparable"] and ratio["significant"]
    assert torch["published_ratio_to_reference"] == pytest.approx(5.4 / 4.8)
    assert ncf["frameworks"]["tensorflow"]["ratio_to_reference"] is None
    assert fake["published"] is None and fake["published_ratio_to_reference"] is None
    assert fake["share_of_peak"] == pytest.approx(fake["achieved_gflops"] / 100.0)


# The published table's other rows, each framework's "here" row first: never absent.
UNMEASURED_LABELS = [f"{name} ({where})" for name in ("chainer", "cntk", "mxnet", "paddle")
                     for where in ("here", "paper")]


def test_every_published_framework_gets_a_row_with_why_it_was_not_measured(
        tmp_path: Path) -> None:
    report = _run(tmp_path, TWO, workloads=("alexnet",))
    report.run.environment["frameworks_not_runnable"] = {
        "mxnet": "not installed here: pip install failed with Python 3.11.7: no wheel"}
    table = _table(report)
    assert [label for label, _ in table.rows[4:]] == UNMEASURED_LABELS
    assert _row(table.rows, "cntk (here)") == ("not runnable here",)
    assert _row(table.rows, "cntk (paper)") == ("845 ± 8",)
    assert _row(table.rows, "mxnet (here)") == ("not installed here",)
    assert _row(table.rows, "chainer (here)") == ("not measured",)
    note = paper_note(report)
    assert "mxnet: not installed here: pip install failed with Python 3.11.7: no wheel." in note
    assert "cntk: not runnable here: CNTK 2.7.post2" in note
    assert "Python >= 3.11" in note
    assert "chainer: not measured by this run" in note
    document = paper_document(report)
    assert document is not None and set(document["not_measured"]) == {
        "chainer", "cntk", "mxnet", "paddle"}
