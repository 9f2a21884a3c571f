"""JSON that any parser reads: no NaN or Infinity in a report, a stored record or a bundle."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dlarena import jsonsafe
from dlarena.cli.main import main
from dlarena.parity.compare import PrecisionAudit
from dlarena.store import Store
from tests.store.test_store import ENV, outcome


def strict(text: str) -> Any:
    """What a parser other than Python's makes of `text`: NaN and Infinity are errors."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    value = {"a": math.nan, "b": [1.5, math.inf, (-math.inf, 2)], "c": {"d": "NaN", "e": 0}}
    assert jsonsafe.finite(value) == {"a": None, "b": [1.5, None, [None, 2]],
                                      "c": {"d": "NaN", "e": 0}}
    assert strict(jsonsafe.dumps(value)) == jsonsafe.finite(value)
    with pytest.raises(ValueError, match="not JSON"):
        strict(json.dumps(value))  # what Python writes unasked


def store_with_nan(db: Path) -> int:
    """A run whose environment and details hold NaN and infinities, as records written
    before this version could."""
    store = Store.open(db)
    try:
        run_id = store.create_run(plan_key="k", command="c",
                                  environment={**ENV, "physical_ceiling_gflops": math.inf})
        store.save(run_id, outcome(details={"loader": {"stall_seconds": math.nan}}),
                   process=0)
    finally:
        store.close()
    return run_id


def test_the_store_writes_null_for_what_is_not_finite(tmp_path: Path) -> None:
    store_with_nan(tmp_path / "r.db")
    connection = sqlite3.connect(tmp_path / "r.db")
    try:
        [(environment,)] = connection.execute("SELECT environment FROM runs")
        [(details,)] = connection.execute("SELECT details FROM cells")
    finally:
        connection.close()
    assert strict(environment)["physical_ceiling_gflops"] is None
    assert strict(details)["loader"] == {"stall_seconds": None}


def plant_nan(db: Path) -> None:
    """NaN and Infinity written straight into the records, as an older dlarena did."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("""UPDATE runs SET environment = json_set(environment,
                           '$.matmul_peak_gflops', 1)""")
        connection.execute("UPDATE runs SET environment = replace(environment, "
                           "'\"matmul_peak_gflops\": 1', '\"matmul_peak_gflops\": Infinity')")
        connection.execute("UPDATE runs SET environment = replace(environment, "
                           "'\"matmul_peak_gflops\":1', '\"matmul_peak_gflops\": NaN')")
        connection.commit()
        [(text,)] = connection.execute("SELECT environment FROM runs")
        assert "NaN" in text or "Infinity" in text
    finally:
        connection.close()


@pytest.mark.parametrize("argv", [
    ["report", "--format", "json"], ["report", "--machines", "--format", "json"],
    ["compare", "1", "1", "--format", "json"], ["report", "--format", "csv"],
])
def test_reports_of_records_holding_nan_are_json_every_parser_reads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    store_with_nan(tmp_path / "r.db")
    plant_nan(tmp_path / "r.db")
    capsys.readouterr()
    assert main([*argv, "--db", str(tmp_path / "r.db")]) == 0
    out = capsys.readouterr().out
    if "csv" in argv:
        assert "NaN" not in out and "Infinity" not in out
    else:
        strict(out)


def test_export_refuses_a_run_holding_nan_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_with_nan(tmp_path / "r.db")
    plant_nan(tmp_path / "r.db")
    assert main(["export", "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err
    assert "not finite" in error and error.count("\n") == 1
    assert not (tmp_path / "b").exists()


def test_a_stored_null_error_reads_as_not_finite_and_is_flagged() -> None:
    audit = PrecisionAudit.from_dict({"label": "x/eager", "precision": "fp32", "findings": [
        {"what": "gradients", "where": "w", "error": None, "expected": 1e-6,
         "reduction_length": 10}]})
    assert audit.reduced and audit.worst.error == math.inf


@pytest.mark.parametrize(("payload", "where"), [
    ('"windows": [[10, 0.5], [10, 0.0]]', "windows[1] = [10, 0.0]"),
    ('"windows": [[10, 0.5]], "metrics": {"serve_p99_seconds_c16": NaN}',
     "metrics.serve_p99_seconds_c16 = nan"),
    ('"windows": [[10, 0.5]], "samples": {"latency": [1.0, Infinity]}',
     "samples.latency[1] = inf"),
])
def test_a_worker_reporting_what_is_not_a_measurement_fails_its_cell(
        tmp_path: Path, payload: str, where: str) -> None:
    """Before, such a result aborted the whole run when the store refused it (NOT NULL, or
    a division by a window of 0 s); now the cell fails and says which value."""
    from dlarena.executors.local import LocalExecutor
    from tests.conftest import fake_cell

    worker = tmp_path / "worker"
    worker.write_text("#!/bin/sh\nread request\necho '{\"protocol\": 1, \"event\": \"result\", "
                      f"\"status\": \"ok\", \"throughput_metric\": \"train_throughput\", "
                      f"{payload}}}'\n")
    worker.chmod(0o755)
    result = LocalExecutor({"fake": str(worker)}).run(fake_cell(), lambda _cell, _event: None)
    assert result.status == "error" and where in (result.error or "")
    store = Store.open(tmp_path / "r.db")
    try:
        run_id = store.create_run(plan_key="k", command="c", environment=ENV)
        store.save(run_id, result, process=0)  # stored as a failure, not a crash
        [cell] = store.cells(run_id)
        assert not cell.ok
    finally:
        store.close()
