"""The HTML report opens with every verdict in one forest plot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dlarena.parity.compare import Check, ParityResult
from dlarena.report import html
from dlarena.report.build import build_report
from dlarena.report.model import Report
from dlarena.store import Store
from tests.report.test_exports import ENV, outcome


@pytest.fixture
def report(tmp_path: Path) -> Report:
    """Three verdicts: one significant (mlp), one not (cnn), one not comparable (lstm)."""
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    for workload, torch_seconds in (("mlp", 0.5), ("cnn", 1.0), ("lstm", 0.5)):
        store.save(run_id, outcome("torch", "eager", torch_seconds, workload=workload),
                   process=0)
        store.save(run_id, outcome("tensorflow", "function", 1.0, workload=workload),
                   process=0)
    store.save_parity(run_id, "v", ParityResult(
        "lstm", "smoke", "torch", "tensorflow",
        (Check("forward (inference mode)", False, "first difference at lstm1"),)))
    built = build_report(store, run_id)
    store.close()
    return built


def test_the_page_opens_with_one_row_per_verdict(report: Report) -> None:
    kinds = [(v.significant, v.comparable) for g in report.groups for v in g.verdicts]
    assert sorted(kinds) == [(False, False), (False, True), (True, True)]
    page = html.render(report)
    sections = re.findall(r'<section id="([^"]+)"', page)
    assert sections[0] == "verdicts"
    start = page.index('<figure class="plot" id="forest"')
    forest = page[start:page.index("</figure>", start)]
    assert forest.count("<svg") == 1
    assert sorted(re.findall(r'<g id="verdict-row-(\d+)"', forest)) == ["0", "1", "2"]
    for label in ("mlp · train: torch/eager / tensorflow/function",
                  "cnn · train: torch/eager / tensorflow/function",
                  "lstm · train: torch/eager / tensorflow/function"):
        assert label in forest
    for legend in ("significant: the interval excludes 1", "no significant difference",
                   "not comparable: failed the same-model check"):
        assert legend in forest
    assert "a cell is flagged unstable" not in forest  # only the kinds drawn are explained


def test_no_verdict_no_forest(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    store.save(run_id, outcome("torch", "eager", 1.0), process=0)
    page = html.render(build_report(store, run_id))
    assert 'id="forest"' not in page and 'id="verdicts"' in page
