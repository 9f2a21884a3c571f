"""The data scenarios run for real in worker processes: the fake framework's pipeline
(Pillow and NumPy) stands in for a framework's, so these take seconds."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlarena.cell import ThreadSettings
from dlarena.cli import main
from dlarena.engine.plan import Request, build_plan
from dlarena.engine.runner import execute, prepare
from dlarena.errors import UsageError
from dlarena.executors.local import LocalExecutor
from dlarena.report import dataload as dataload_report
from dlarena.report import html, markdown
from dlarena.report.build import build_report
from dlarena.scenarios import pipelines
from dlarena.store import Store
from tests.conftest import RecordingObserver

pytestmark = pytest.mark.usefixtures("no_fault")

# A planted decode this slow caps the fake's pipeline at 1 / DELAY images per second.
DELAY = 0.004


@pytest.fixture(scope="module", autouse=True)
def image_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated files go to a cache of this module's own (workers inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


def _request(**changes: object) -> Request:
    fields: dict[str, object] = {
        "suite": "data", "frameworks": ["fake"], "workloads": ["cnn"], "size": "smoke",
        "windows": 3, "min_window_seconds": 0.05, "sweep": {pipelines.WORKERS_OPTION: [0]}}
    fields.update(changes)
    return Request(**fields)  # type: ignore[arg-type]


def test_the_data_suite_sweeps_loader_workers_and_the_formats_a_pipeline_reads() -> None:
    planned = build_plan(Request(suite="data", frameworks=["fake"]), ThreadSettings(1, 1))
    options = {(p.cell.workload, p.cell.scenario, tuple(sorted(p.cell.options.items())))
               for p in planned}
    # Per workload: 3 dataload cells, 3 train-from-files cells and the in-memory train cell
    # they are judged against, each in three processes (paired by round).
    assert len(options) == 2 * (3 + 3 + 1)
    assert len(planned) == len(options) * 3
    assert {p.cell.scenario for p in planned} == {"dataload", "train-from-files", "train"}
    # The fake's pipeline reads JPEG files only: no cell asks it for record shards.
    assert {dict(o)[pipelines.WORKERS_OPTION] for _, s, o in options if s != "train"} == {
        0, 1, 2}
    assert all(dict(o).get(pipelines.FORMAT_OPTION, "jpeg") == "jpeg" for _, _, o in options)


@pytest.mark.parametrize(("sweep", "needle"), [
    ({"loader_workers": [-1]}, "loader_workers takes values like 0, 1, 2"),
    ({"loader_workers": ["2"]}, "loader_workers takes values like"),
    ({"threads_per_loader": [1]}, "threads_per_loader is an option of no chosen scenario"),
    ({"file_format": []}, "give at least one value"),
])
def test_a_bad_sweep_is_a_usage_error(sweep: dict[str, list[object]], needle: str) -> None:
    with pytest.raises(UsageError, match=needle):
        build_plan(_request(sweep=sweep), ThreadSettings(1, 1))


def _run(tmp_path: Path, request: Request, **options: object) -> Store:
    prepared = prepare(request, {})
    planted = [dataclasses.replace(p, cell=dataclasses.replace(
        p.cell, options={**p.cell.options, **options})) for p in prepared.planned]
    store = Store.open(tmp_path / "r.db")
    summary = execute(dataclasses.replace(prepared, planned=planted), store=store,
                      executor=LocalExecutor(), observer=RecordingObserver())
    assert summary.failed == 0, [c.error for c in store.cells(summary.run_id)]
    return store


def test_a_planted_slow_decode_caps_the_pipeline_and_makes_training_input_bound(
        tmp_path: Path) -> None:
    fast = build_report(_run(tmp_path / "fast", _request()))
    slow = build_report(_run(tmp_path / "slow", _request(), **{pipelines.DELAY_OPTION: DELAY}))

    def load_rate(report: object) -> float:
        [cell] = [c for c in report.cells  # type: ignore[attr-defined]
                  if c.stored.spec.scenario == "dataload"]
        return float(cell.summaries["load_throughput"].median)

    assert load_rate(slow) < 1 / DELAY < 2 * 1 / DELAY < load_rate(fast)
    [row] = dataload_report.train_rows(slow)
    assert row[-1] == "input-bound" and float(row[-2].split("x")[0]) < 0.5
    # Measured in rounds, each configuration in processes of its own: an interval.
    low, high = map(float, row[-2].split("(")[1].rstrip(")").split("–"))
    assert low <= float(row[-2].split("x")[0]) <= high < pipelines.INPUT_BOUND_RATIO
    [line] = dataload_report.input_bound_lines(slow)
    assert line.startswith("cnn fake/eager (batch 16): input-bound with 0 loader workers")
    text = markdown.render(slow)
    assert "## Input-bound" in text and "## Input pipelines" in text
    page = html.render(slow)
    assert "Training from files" in page and line in page
    [cell] = [c for c in slow.cells if c.stored.spec.scenario == "dataload"]
    assert cell.summaries["cpu_seconds_per_image"].median > 0
    assert cell.summaries["peak_rss_loading_bytes"].median > 10 * 2**20
    manifest = cell.stored.details[0]["manifest"]
    assert manifest["image_side"] == 32 and len(manifest["image_files_digest"]) == 16


def test_dlarena_run_suite_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    code = main(["run", "--suite", "data", "--frameworks", "fake", "--size", "smoke",
                 "--workloads", "cnn", "--loader-workers", "0,1", "--windows", "2",
                 "--min-window", "0.02", "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Input pipelines" in out and "Training from files" in out
    # dataload and train-from-files at 0 and 1 loader workers, and the in-memory train cell.
    assert len(Store.open(db).cells(1)) == 5
