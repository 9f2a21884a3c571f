"""The Ease of development section and the seed claims it judges, from stored devex cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlarena.executors.base import CellOutcome
from dlarena.report import devex, markdown
from dlarena.report.build import build_report
from dlarena.report.claims import DOES_NOT_HOLD, HOLDS, NO_DIFFERENCE, NOT_MEASURED, judge_all
from dlarena.store import Store
from tests.conftest import fake_cell
from tests.report.test_exports import ENV, outcome

RAISED = {"plantable": True, "raised": True, "stage": "first step", "error_type": "E",
          "innermost_user_frame": "dlarena/x.py:1 step", "at_mistake": False,
          "names_mistake_line": False, "internal_frames_below": 2, "traceback_lines": 20,
          "message_chars": 30}
SILENT = {"plantable": True, "raised": False, "stage": None, "trainable_parameters": 11,
          "expected_parameters": 10, "loss": 2.3}


def devex_outcome(framework: str, mode: str, *, tokens: float, api_names: list[str],
                  stops: int, concrete: int, mistakes: dict[str, dict[str, Any]],
                  workload: str = "mlp") -> CellOutcome:
    details = {
        "implementation": f"workloads/{workload}/{framework}.py",
        "code": {"api_names": api_names, "engine_helpers": [], "helper_classes": ["Block"],
                 "extra_methods": ["channels_last"]},
        "debugger": {"forward": "Model.forward (m.py:1)", "steps": 3, "stops": stops,
                     "concrete_stops": concrete, "value_type": "T",
                     "seen": "concrete" if concrete else "symbolic" if stops else None,
                     "sample": "t"},
        "mistakes": [{"mistake": name, **record} for name, record in mistakes.items()],
    }
    metrics = {"code_lines": 20.0, "code_logical_lines": 15.0, "code_tokens": tokens,
               "code_api_calls": 6.0, "code_api_names": float(len(api_names)),
               "code_padding_calls": 1.0, "code_layout_calls": 0.0,
               "probe_stops": float(stops), "probe_concrete_stops": float(concrete)}
    return CellOutcome(
        cell=fake_cell(framework=framework, mode=mode, scenario="devex", workload=workload),
        status="ok", error=None, stderr_tail="", started_utc="t", wall_seconds=1.0,
        interpreter="python",
        payload={"metrics": metrics, "framework_version": "1",
                 "scenario_details": details})


def _store(tmp_path: Path, *outcomes: CellOutcome) -> Store:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    for stored in outcomes:
        store.save(run_id, stored, process=0)
    return store


def _claims(store: Store) -> dict[str, Any]:
    return {r.claim.id: r for r in judge_all(build_report(store)) if r.claim.criterion}


def test_claims_are_judged_by_the_devex_counts(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        devex_outcome("torch", "eager", tokens=100, api_names=["a", "b"], stops=3,
                      concrete=3, mistakes={"width": RAISED, "dtype": RAISED}),
        devex_outcome("tensorflow", "function", tokens=200, api_names=["a", "b", "c"],
                      stops=1, concrete=0, mistakes={"width": SILENT, "dtype": RAISED}),
    )
    claims = _claims(store)
    assert claims["pytorch-python-debuggers"].status == HOLDS
    assert "stops at every step" in claims["pytorch-python-debuggers"].summary
    # width: raised beats silent; dtype: the same report on both sides.
    assert claims["pytorch-easy-to-debug"].status == HOLDS
    assert "torch easier on 1, tensorflow on 0 of 2" in claims["pytorch-easy-to-debug"].summary
    assert claims["keras-concise"].status == DOES_NOT_HOLD
    assert "tensorflow 200, torch 100" in claims["keras-concise"].summary
    assert claims["pytorch-easier-to-learn"].status == HOLDS


def test_a_mistake_the_framework_makes_impossible_counts_for_it(tmp_path: Path) -> None:
    """Keras and Flax infer a layer's input width: a width planted there declares a bigger,
    valid model. That beats torch's error on the same mistake; a plain silent run does not."""
    inferred = {**SILENT, "cannot_be_made": True}
    store = _store(
        tmp_path,
        devex_outcome("torch", "eager", tokens=100, api_names=["a"], stops=3, concrete=3,
                      mistakes={"dense_width": RAISED, "labels": RAISED}),
        devex_outcome("tensorflow", "function", tokens=100, api_names=["a"], stops=3,
                      concrete=3, mistakes={"dense_width": inferred, "labels": SILENT}))
    claim = _claims(store)["pytorch-easy-to-debug"]
    assert claim.status == NO_DIFFERENCE
    assert "torch easier on 1, tensorflow on 1 of 2" in claim.summary
    assert "dense_width (mlp): tensorflow" in claim.summary
    text = markdown.render(build_report(store))
    assert "| dense_width (mlp) | tensorflow/function | cannot be made: the framework infers" \
        in text


def test_equal_counts_are_no_clear_difference_and_missing_cells_not_measured(
        tmp_path: Path) -> None:
    same = {"tokens": 100.0, "api_names": ["a"], "stops": 3, "concrete": 3,
            "mistakes": {"width": RAISED}}
    claims = _claims(_store(tmp_path, devex_outcome("torch", "eager", **same),
                            devex_outcome("tensorflow", "function", **same)))
    assert {r.status for r in claims.values()} == {NO_DIFFERENCE}
    (tmp_path / "other").mkdir()
    alone = _claims(_store(tmp_path / "other", devex_outcome("torch", "eager", **same)))
    assert {r.status for r in alone.values()} == {NOT_MEASURED}
    assert all(r.summary.startswith("needs ") for r in alone.values())


def test_a_claim_reads_each_framework_in_its_default_mode(tmp_path: Path) -> None:
    """tensorflow/eager stops like torch; the claim is about TensorFlow's default (function)."""
    common = {"tokens": 100.0, "api_names": ["a"], "mistakes": {}}
    claims = _claims(_store(
        tmp_path,
        devex_outcome("torch", "eager", stops=3, concrete=3, **common),
        devex_outcome("tensorflow", "eager", stops=3, concrete=3, **common),
        devex_outcome("tensorflow", "function", stops=1, concrete=0, **common)))
    assert claims["pytorch-python-debuggers"].status == HOLDS


def test_the_markdown_report_has_the_ease_of_development_tables(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        devex_outcome("torch", "eager", tokens=100, api_names=["a"], stops=3, concrete=3,
                      mistakes={"width": RAISED}),
        devex_outcome("tensorflow", "function", tokens=150, api_names=["a"], stops=0,
                      concrete=0, mistakes={"width": SILENT}))
    report = build_report(store)
    text = markdown.render(report)
    section = text[text.index("## Ease of development"):]
    assert "| mlp | torch | 20 | 15 | 100 | 6 | 1 | class Block, channels_last(), 1 padding |" \
        in section
    assert "| torch/eager (mlp) | Model.forward (m.py:1) | 3 of 3 | concrete T | 1 of 1 " \
        "workloads |" in section
    assert "| tensorflow/function (mlp) | Model.forward (m.py:1) | 0 of 3 | never stopped | " \
        "0 of 1 workloads |" in section
    assert "silent: trained (11 parameters instead of 10; loss 2.3)" in section
    assert "| width (mlp) | torch/eager | E at first step | dlarena/x.py:1 step | no | no | 2 | 20 " \
        "| 30 |" in section
    assert "“Intuitivo y fácil de depurar.”" in section
    # No verdict and no same-model check is asked of cells that are not compared.
    assert report.unchecked_pairs == []
    assert devex.tables(report)[0][0].startswith("Code size per implementation")


def test_a_run_without_devex_cells_has_no_section(tmp_path: Path) -> None:
    store = _store(tmp_path, outcome("torch", "eager", 1.0))
    text = markdown.render(build_report(store))
    assert "## Ease of development" not in text
    # ...and says what would measure it.
    assert "- **Ease of development**: code size, debugger reach and planted mistakes" in text


def test_the_html_report_has_the_section_and_the_judged_claims(tmp_path: Path) -> None:
    from dlarena.report import html

    store = _store(
        tmp_path,
        devex_outcome("torch", "eager", tokens=100, api_names=["a"], stops=3, concrete=3,
                      mistakes={"width": RAISED}),
        devex_outcome("tensorflow", "function", tokens=150, api_names=["a"], stops=1,
                      concrete=0, mistakes={"width": SILENT}))
    page = html.render(build_report(store))
    section = page[page.index('id="devex"'):]
    assert "Planted mistakes: one training step from a scratch copy" in section
    assert "symbolic T" in section
    claim = page[page.index('id="claim-pytorch-python-debuggers"'):]
    assert 'class="badge holds"' in claim[:2000]
