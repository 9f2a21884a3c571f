"""Real PyTorch, TensorFlow and JAX through whole suites (`dlarena run --suite ...`), from
the command line: the graphs, accuracy and paper suites at smoke size. Apart from
test_real_frameworks.py, so that `make test`'s two lanes (pytest-xdist, a file per lane at a
time) share the heavy work out evenly."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlarena.store import Store
from tests.conftest import json_report, require
from tests.integration.test_real_frameworks import DEFAULT_SET, FRAMEWORKS

pytestmark = pytest.mark.frameworks


def test_graphs_suite_runs_every_mode_and_reports_startup_latency_break_even(
    tmp_path: Path,
) -> None:
    """`dlarena run --suite graphs --size smoke` on mlp and lstm (a model dynamo compiles and
    one it cannot): every framework x mode, four scenarios."""
    import subprocess
    import sys

    for framework in FRAMEWORKS:
        require(framework)
    db = str(tmp_path / "graphs.db")
    # Without the same-model check: over all six modes of three workloads it is 45 pairs and
    # three quarters of this test's time (10 of 13 min here); compiled modes are checked by
    # test_compiled_modes_are_checked_through_their_compiled_passes. Other frameworks' modes
    # are run by their own tests (test_jax_graphs_suite_reports_compilations_and_break_even).
    ran = subprocess.run([sys.executable, "-m", "dlarena.cli", "run", "--suite", "graphs",
                          "--size", "smoke", "--frameworks", ",".join(FRAMEWORKS), "--no-parity",
                          "--workloads", "mlp,lstm", "--windows", "2", "--min-window", "0.05",
                          "--db", db],
                         capture_output=True, text=True, timeout=2700, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    document = json_report(db)
    cells = document["cells"]
    assert {(c["framework"], c["mode"]) for c in cells} == {
        ("torch", "eager"), ("torch", "compile"), ("torch", "compile-max-autotune"),
        ("tensorflow", "function"), ("tensorflow", "eager"), ("tensorflow", "xla")}
    assert {c["scenario"] for c in cells} == {"startup", "train", "infer", "latency"}
    assert {c["workload"] for c in cells} == {"mlp", "lstm"}
    assert all(c["status"] == "ok" for c in cells)
    compiled = {c["workload"]: c["metrics"] for c in cells
                if c["mode"] == "compile" and c["scenario"] == "startup"}
    assert compiled["mlp"]["compiled_graphs"]["median"] >= 1
    # dynamo cannot trace nn.LSTM on the CPU: it falls back to eager, and says so
    assert compiled["lstm"]["graph_breaks"]["median"] >= 1
    markdown = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "report", "--db", db, "--format", "markdown"],
        capture_output=True, text=True, check=True).stdout
    for heading in ("## Start-up", "## Batch-1 latency",
                    "### Break-even of compiled modes"):
        assert heading in markdown


def test_accuracy_suite_on_real_data_writes_curves_and_judges_the_claims(
    tmp_path: Path,
) -> None:
    """`dlarena run --suite accuracy --epochs 2 --seeds 1`, as CI runs it."""
    import subprocess
    import sys

    from dlarena.report.tensorboard import read_scalars

    for framework in DEFAULT_SET:
        require(framework)
    db = tmp_path / "accuracy.db"
    ran = subprocess.run([sys.executable, "-m", "dlarena.cli", "run", "--suite", "accuracy",
                          "--epochs", "2", "--seeds", "1", "--db", str(db)],
                         capture_output=True, text=True, timeout=1200, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    document = json_report(str(db))
    for cell in document["cells"]:
        accuracy = cell["metrics"]["final_val_accuracy"]["median"]
        # ncf: hit rate@10, where ranking at random scores 0.1
        assert accuracy > {"mlp": 0.9, "cnn": 0.8, "ncf": 0.3}[cell["workload"]], cell
        assert cell["metrics"]["val_accuracy"]["n"] == 2  # one point per epoch
    assert {cell["workload"] for cell in document["cells"]} == {"mlp", "cnn", "ncf"}
    for workload, dataset in (("mlp", "mnist"), ("cnn", "fashion-mnist"),
                              ("ncf", "movielens-100k")):
        for label in ("torch-eager", "tensorflow-function", "jax-jit"):
            [events] = (tmp_path / "tensorboard" / "run-1" / f"{workload}-{dataset}"
                        / f"{label}-seed0").glob("events.out.tfevents.*")
            tags = {tag for tag, _, _ in read_scalars(events)}
            assert {"val/accuracy", "train/loss"} <= tags
    from dlarena.report.build import build_report
    from dlarena.report.claims import NOT_MEASURED, judge_all

    store = Store.read(db)
    claims = {result.claim.id: result.status for result in judge_all(build_report(store))}
    assert claims["same-accuracy"] != NOT_MEASURED
    assert claims["ram-while-loading-data"] != NOT_MEASURED


def test_paper_suite_prints_the_measured_table_beside_the_published_one(tmp_path: Path) -> None:
    """`dlarena run --suite paper` (at smoke size here): six models, both frameworks."""
    import os
    import subprocess
    import sys

    from dlarena.report.published import PASZKE_2019

    for framework in FRAMEWORKS:
        require(framework)
    ran = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "run", "--suite", "paper", "--size", "smoke",
         "--windows", "3", "--min-window", "0.05", "--db", str(tmp_path / "paper.db"),
         "--frameworks", ",".join(FRAMEWORKS)],
        capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "COLUMNS": "250"})
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    out = ran.stdout
    assert "Beside the published table" in out and "Quadro GP100" in out
    for column in PASZKE_2019.columns.values():
        assert f"│ {column} " in out, column
    assert "images/s" in out and "tokens/s" in out and "samples/s" in out
    assert out.count("same model") >= len(PASZKE_2019.columns)
