"""The deployment section from a real run of the fake framework's deployment scenarios: the
export matrix says which worked and why the others did not, in Markdown and HTML."""

from __future__ import annotations

import dataclasses

import pytest

from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.report import deployment, html, markdown, phases
from dlarena.report.build import build_report
from dlarena.store import Store
from tests.conftest import RecordingObserver

pytestmark = pytest.mark.usefixtures("no_fault")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path_factory.mktemp("deploy") / "r.db")
    request = Request(suite="deploy", frameworks=["fake"], workloads=["mlp"], size="smoke",
                      min_window_seconds=0.02, windows=3, check_parity=False)
    run(request, store=store, executor=LocalExecutor(), interpreters={},
        observer=RecordingObserver())
    return build_report(store)


def test_export_matrix_shows_each_outcome(report) -> None:  # type: ignore[no-untyped-def]
    header, rows = deployment.export_matrix(report)
    # A column per scenario the run measured: the fixture's run has no OpenVINO cell.
    assert header == ["workload", "framework",
                      *(s for s in deployment.MATRIX_SCENARIOS if s != "export-openvino")]
    (row,) = rows
    outcomes = dict(zip(header, row, strict=True))
    assert outcomes["save-weights"] == "ok (max |Δ| 0.0e+00)"
    assert outcomes["export-onnx"] == "unsupported here: the fake framework has no onnx exporter"
    assert outcomes["serve"] == "ok"
    assert outcomes["export-aotinductor"].startswith("unsupported here: fake has no "
                                                     "aotinductor exporter")
    # TorchServe is PyTorch's model server: the fake framework does not offer it.
    assert outcomes["serve-torchserve"].startswith(
        "unsupported here: TorchServe serves PyTorch models; fake has its own servers")
    assert [cell.stored.spec.scenario for cell in report.unsupported] == [
        "export-onnx", "export-litert", "export-aotinductor", "serve-torchserve"]
    assert not report.failed


def test_markdown_and_html_carry_the_deployment_section(report) -> None:  # type: ignore[no-untyped-def]
    text = markdown.render(report)
    assert "## Deployment" in text and "### Serving under load" in text
    assert "the fake framework has no litert exporter" in text
    page = html.render(report)
    assert 'id="deployment"' in page and "Export matrix" in page
    assert "Serving under load" in page and "<svg" in page
    assert len(deployment.save_rows(report)) == 3 and len(deployment.serve_rows(report)) == 1


def test_saturation_says_held_rate_or_below_the_lowest_tried(report) -> None:  # type: ignore[no-untyped-def]
    [served] = [cell for cell in report.cells if cell.stored.spec.scenario == "serve"]
    held = deployment.saturation(served)
    assert held not in ("–", "") and not held.startswith("<")  # the fake server holds
    rates = [40.0, 26.7, 17.8]  # a search that stepped down and found nothing that held
    summaries = {metric: summary for metric, summary in served.summaries.items()
                 if metric != "poisson_max_rate_within_bound"}
    stored = dataclasses.replace(served.stored, samples={
        **served.stored.samples, "poisson_offered_rate": rates})
    none_held = dataclasses.replace(served, stored=stored, summaries=summaries)
    assert deployment.saturation(none_held) == "< 17.8"
    no_levels = dataclasses.replace(none_held, stored=dataclasses.replace(
        stored, samples={**stored.samples, "poisson_offered_rate": []}))
    assert deployment.saturation(no_levels) == "–"


def test_unsupported_cells_time_is_shown_as_theirs_not_as_other(report) -> None:  # type: ignore[no-untyped-def]
    # Their workers end before reporting phases; the deploy suite had 278 s of them, which
    # the breakdown showed as "other ... a failed process".
    found = phases.breakdown(report)
    assert found is not None
    unsupported = sum(wall for cell in report.unsupported for wall in cell.stored.wall_seconds)
    assert unsupported > 0 and found.unphased == pytest.approx(unsupported)
    assert found.unattributed < found.unphased
    assert ("· no phases reported", found.unphased) in [
        (name, seconds) for name, seconds, _ in found.rows()]
