"""Results from many machines: `dlarena export` bundles, `dlarena import` merging without
duplicates, and `report --machines` putting machines side by side."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dlarena.cli.main import main
from dlarena.engine import environment
from dlarena.engine.plan import Request
from dlarena.engine.runner import RunSummary, run
from dlarena.executors.local import LocalExecutor
from dlarena.store import Store
from tests.conftest import RecordingObserver
from tests.store.test_store import ENV, outcome

pytestmark = pytest.mark.usefixtures("no_fault")

TWO_MODES = Request(suite="smoke", frameworks=["fake"], workloads=["mlp"], scenarios=["train"],
                    modes=["all"], min_window_seconds=0.01, windows=3)
TABLES = ("runs", "cells", "windows", "samples", "parity")


def measure(db: Path) -> RunSummary:
    store = Store.open(db)
    try:
        return run(TWO_MODES, store=store, executor=LocalExecutor(), interpreters={},
                   observer=RecordingObserver())
    finally:
        store.close()


def rows(db: Path) -> dict[str, int]:
    connection = sqlite3.connect(db)
    try:
        return {table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in TABLES}
    finally:
        connection.close()


def export(db: Path, out: Path, run_id: int | None = None) -> dict[str, Any]:
    argv = ["export", "--db", str(db), "--out", str(out)]
    assert main([*argv, "--run", str(run_id)] if run_id else argv) == 0
    document: dict[str, Any] = json.loads(out.read_text())
    return document


def test_a_bundle_carries_the_run_and_imports_to_the_same_figures(tmp_path: Path) -> None:
    summary = measure(tmp_path / "a.db")
    bundle = export(tmp_path / "a.db", tmp_path / "a.bundle")
    assert bundle["format"] == "dlarena-bundle" and bundle["version"] == 1
    assert bundle["run"]["environment"]["cpu_model"] and bundle["parity"]
    assert all(cell["details"].get("manifest") for cell in bundle["cells"])
    assert main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "c.db")]) == 0

    source, target = Store.read(tmp_path / "a.db"), Store.read(tmp_path / "c.db")
    try:
        [imported] = target.runs()
        original = source.run(summary.run_id)
        assert imported.plan_key.startswith("imported:")
        assert {k: v for k, v in imported.environment.items() if k != "imported"} \
            == original.environment
        key = {c.spec.key: c for c in source.cells(summary.run_id)}
        copies = target.cells(imported.id)
        assert len(copies) == len(key) == 2
        for cell in copies:
            assert cell.samples_by_process == key[cell.spec.key].samples_by_process
            assert cell.details == key[cell.spec.key].details
        assert target.parity(imported.id) == source.parity(summary.run_id)
    finally:
        source.close()
        target.close()
    assert rows(tmp_path / "c.db")["windows"] == rows(tmp_path / "a.db")["windows"]


def test_importing_twice_or_into_the_origin_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    measure(tmp_path / "a.db")
    export(tmp_path / "a.db", tmp_path / "a.bundle")
    before_origin = rows(tmp_path / "a.db")
    # A run measured here is never changed by a bundle, not even its own.
    assert main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "a.db")]) == 2
    assert rows(tmp_path / "a.db") == before_origin
    assert "is run 1 of this store, measured here" in capsys.readouterr().err

    main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "c.db")])
    once = rows(tmp_path / "c.db")
    assert main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "c.db")]) == 0
    assert rows(tmp_path / "c.db") == once
    assert "0 worker process(es) added, 0 replaced a failure, 2 already stored" \
        in capsys.readouterr().out
    # An imported run exported again is the same run: it merges into its first copy, and
    # is refused by its origin.
    export(tmp_path / "c.db", tmp_path / "c.bundle")
    main(["import", str(tmp_path / "c.bundle"), "--db", str(tmp_path / "d.db")])
    assert main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "d.db")]) == 0
    assert rows(tmp_path / "d.db") == once
    assert "merged into imported run 1" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "c.bundle"), "--db", str(tmp_path / "a.db")]) == 2
    assert rows(tmp_path / "a.db") == before_origin


def test_a_success_replaces_a_stored_failure_and_only_then(tmp_path: Path) -> None:
    origin = Store.open(tmp_path / "a.db")
    run_id = origin.create_run(plan_key="k", command="c", environment=ENV)
    origin.save(run_id, outcome("error"), process=0)
    failed = origin.export_run(run_id, exported_by="test")
    origin.save(run_id, outcome(), process=0)  # the retry succeeded
    succeeded = origin.export_run(run_id, exported_by="test")
    origin.close()
    target = Store.open(tmp_path / "c.db")
    try:
        assert target.import_run(succeeded).added == 1
        again = target.import_run(failed)  # an older failure never replaces a success
        assert (again.added, again.replaced, again.unchanged) == (0, 0, 1)
        [cell] = target.cells(again.run_id)
        assert cell.ok
    finally:
        target.close()
    third = Store.open(tmp_path / "d.db")
    try:
        third.import_run(failed)
        assert third.import_run(succeeded).replaced == 1
        [cell] = third.cells(1)
        assert cell.ok and cell.samples["train_throughput"] == [160.0, 320.0, 160.0]
    finally:
        third.close()


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"format": "something else"}', "not a dlarena bundle"),
    ('{"format": "dlarena-bundle", "version": 99}', "bundle version 99"),
    ('{"format": "dlarena-bundle", "version": 1, "run": {}}', "the document: lacks cells, parity"),
])
def test_a_bad_bundle_is_one_line_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str) -> None:
    (tmp_path / "bad").write_text(content)
    assert main(["import", str(tmp_path / "bad"), "--db", str(tmp_path / "c.db")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
    assert not (tmp_path / "c.db").exists()


def test_a_tampered_cell_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    measure(tmp_path / "a.db")
    bundle = export(tmp_path / "a.db", tmp_path / "a.bundle")
    bundle["cells"][0]["spec"]["cell"]["batch_size"] = 4096  # no longer the cell it was
    (tmp_path / "a.bundle").write_text(json.dumps(bundle))
    assert main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "c.db")]) == 2
    assert "does not match its spec" in capsys.readouterr().err


def test_a_run_here_never_resumes_into_an_imported_one(tmp_path: Path) -> None:
    measure(tmp_path / "a.db")
    export(tmp_path / "a.db", tmp_path / "a.bundle")
    main(["import", str(tmp_path / "a.bundle"), "--db", str(tmp_path / "c.db")])
    here = measure(tmp_path / "c.db")
    assert (here.run_id, here.measured, here.skipped) == (2, 2, 0)


def test_two_machines_in_a_third_store_give_one_report_with_a_hardware_column(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = measure(tmp_path / "laptop.db")
    real = environment.machine_fingerprint

    def elsewhere() -> dict[str, Any]:
        return {**real(), "hostname": "server-7", "cpu_model": "Other CPU 9000",
                "cpu_microarchitecture": "other"}

    monkeypatch.setattr(environment, "machine_fingerprint", elsewhere)
    second = measure(tmp_path / "server.db")
    monkeypatch.undo()
    export(tmp_path / "laptop.db", tmp_path / "laptop.bundle", first.run_id)
    export(tmp_path / "server.db", tmp_path / "server.bundle", second.run_id)
    for name in ("laptop", "server"):
        assert main(["import", str(tmp_path / f"{name}.bundle"),
                     "--db", str(tmp_path / "all.db")]) == 0
    capsys.readouterr()

    assert main(["report", "--machines", "--format", "json", "--db",
                 str(tmp_path / "all.db")]) == 0
    view = json.loads(capsys.readouterr().out)
    assert [m["run"] for m in view["machines"]] == [1, 2]
    hardware = {m["hardware"] for m in view["machines"]}
    assert len(hardware) == 2 and any("Other CPU 9000 [other]" in h for h in hardware)
    assert "compare the ratios, each taken within one machine" in view["note"]
    rows_ = view["rows"]
    assert {r["hardware"] for r in rows_} == hardware
    assert {r["variant"] for r in rows_} == {"fake/eager", "fake/compiled"}
    for machine in (1, 2):
        mine = {r["variant"]: r for r in rows_ if r["run"] == machine}
        # One reference for both machines; each ratio is that machine's own medians' ratio.
        assert {r["reference"] for r in mine.values()} == {"fake/compiled"}
        assert mine["fake/compiled"]["ratio_within_machine"] == pytest.approx(1.0)
        assert mine["fake/eager"]["ratio_within_machine"] == pytest.approx(
            mine["fake/eager"]["median"] / mine["fake/compiled"]["median"])

    assert main(["report", "--machines", "--db", str(tmp_path / "all.db")]) == 0
    table = capsys.readouterr().out
    assert "hardware (run)" in table and "Other CPU 9000" in table and "(run 2)" in table

    assert main(["compare", "1", "2", "--db", str(tmp_path / "all.db")]) == 0
    assert "these runs come from two machines" in capsys.readouterr().out
    assert main(["compare", "1", "2", "--format", "json", "--db", str(tmp_path / "all.db")]) == 0
    assert json.loads(capsys.readouterr().out)["same_machine"] is False
