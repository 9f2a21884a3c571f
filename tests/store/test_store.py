from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dlarena.errors import UsageError
from dlarena.executors.base import CellOutcome
from dlarena.store import SCHEMA_VERSION, Store
from tests.conftest import fake_cell

ENV = {"created_utc": "2026-11-23T00:00:00+00:00", "hostname": "h"}


def outcome(status: str = "ok", **changes: object) -> CellOutcome:
    fields: dict[str, object] = {
        "cell": fake_cell(), "status": status, "error": None if status == "ok" else "boom",
        "payload": {
            "throughput_metric": "train_throughput",
            "windows": [[10, 0.5], [10, 0.25], [20, 1.0]],
            "warmup": [[1, 0.1]],
            "metrics": {"peak_rss_bytes": 1024.0, "first_step_seconds": 0.5},
            "framework_version": "9.9", "manifest": {"data_layout": "NCHW"},
        } if status == "ok" else {},
        "stderr_tail": "", "started_utc": ENV["created_utc"], "wall_seconds": 1.0,
        "interpreter": "python",
    }
    fields.update(changes)
    return CellOutcome(**fields)  # type: ignore[arg-type]


def test_new_store_has_schema_version_and_wal(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "sub" / "r.db")
    store.close()
    db = sqlite3.connect(tmp_path / "sub" / "r.db")
    assert dict(db.execute("SELECT key, value FROM meta"))["schema_version"] == str(SCHEMA_VERSION)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_samples_are_throughputs_per_window_and_scalar_metrics(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="dlarena run", environment=ENV)
    store.save(run_id, outcome(), process=0)
    [cell] = store.cells(run_id)
    # batch 8: 10 steps in 0.5 s = 160 samples/s, 10 in 0.25 s = 320, 20 in 1 s = 160
    assert cell.samples["train_throughput"] == [160.0, 320.0, 160.0]
    assert cell.samples["peak_rss_bytes"] == [1024.0]
    assert cell.ok and cell.framework_version == "9.9"
    assert store.finished(run_id) == {(fake_cell().key, 0)}


def test_retry_replaces_the_failed_row(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    store.save(run_id, outcome("error"), process=0)
    assert store.finished(run_id) == set()
    store.save(run_id, outcome(), process=0)
    [cell] = store.cells(run_id)
    assert cell.ok and cell.processes == 1


def test_processes_of_one_cell_are_pooled(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    store.save(run_id, outcome(), process=0)
    store.save(run_id, outcome(), process=1)
    [cell] = store.cells(run_id)
    assert cell.processes == 2
    assert len(cell.samples["train_throughput"]) == 6
    assert len(cell.samples_by_process["train_throughput"]) == 2


def test_latest_run_for_plan(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    first = store.create_run(plan_key="k", command="c", environment=ENV)
    assert store.latest_run_for_plan("k") == first
    second = store.create_run(plan_key="k", command="c", environment=ENV)
    assert store.latest_run_for_plan("k") == second
    assert store.latest_run_for_plan("other") is None


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my precious notes " * 100)
    with pytest.raises(UsageError, match="not a usable SQLite database"):
        Store.open(path)
    assert path.read_text() == "my precious notes " * 100


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="another program"):
        Store.open(path)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="newer"):
        Store.open(path)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="directory"):
        Store.open(tmp_path)


def test_reading_a_missing_store_does_not_create_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no results database"):
        Store.read(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


def test_a_version_1_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    from dlarena.store.sqlite import _MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1])
    db.execute("INSERT INTO meta VALUES ('application', 'dlarena'), ('schema_version', '1')")
    db.execute("INSERT INTO runs VALUES (1, 'k', 't', 'c', '{}')")
    db.commit()
    db.close()
    store = Store.open(path)
    assert [run.id for run in store.runs()] == [1]
    assert store.parity(1) == []  # the table added by migration 2 exists
    meta = dict(sqlite3.connect(path).execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)


def test_a_version_2_store_gains_the_modes_of_its_parity_checks(tmp_path: Path) -> None:
    from dlarena.parity.compare import Check, ParityResult
    from dlarena.store.sqlite import _MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1] + ";" + _MIGRATIONS[2])
    db.execute("INSERT INTO meta VALUES ('application', 'dlarena'), ('schema_version', '2')")
    db.execute("INSERT INTO runs VALUES (1, 'k', 't', 'c', '{}')")
    old = {"workload": "mlp", "size": "smoke", "first": "torch", "second": "tensorflow",
           "checks": [{"name": "parameters", "passed": True, "detail": "same"}], "error": None}
    db.execute("INSERT INTO parity (run_id, version_key, workload, first, second, passed, "
               "result, created_utc) VALUES (1, 'v', 'mlp', 'torch', 'tensorflow', 1, ?, 't')",
               (json.dumps(old),))
    db.commit()
    db.close()
    store = Store.open(path)
    [stored] = store.parity(1)
    assert stored.passed and (stored.first_mode, stored.second_mode) == (None, None)
    checked = ParityResult("mlp", "smoke", "torch", "tensorflow",
                           (Check("parameters", True, "same"),), first_mode="compile",
                           second_mode="xla")
    store.save_parity(1, "w", checked)
    assert store.parity(1) == [stored, checked]  # one per pair of modes
    assert sqlite3.connect(path).execute(
        "SELECT first_mode, second_mode FROM parity ORDER BY id").fetchall() == [
        (None, None), ("compile", "xla")]


def test_a_version_3_store_keeps_its_samples_and_can_record_unsupported_cells(
        tmp_path: Path) -> None:
    """Migration 4 rebuilds the cells table (a new CHECK); with the foreign keys on, dropping
    the old table would cascade into its windows and samples."""
    from dlarena.store.sqlite import _MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(";".join(_MIGRATIONS[step] for step in (1, 2, 3)))
    db.execute("INSERT INTO meta VALUES ('application', 'dlarena'), ('schema_version', '3')")
    db.execute("INSERT INTO runs VALUES (1, 'k', 't', 'c', '{}')")
    cell = fake_cell()
    db.execute("INSERT INTO cells VALUES (7, 1, ?, 0, 'mlp', 'fake', 'eager', 'train', "
               "'smoke', 'cpu', 8, 'fp32', ?, 'ok', NULL, '9.9', NULL, 't', 1.0, 'python', "
               "'', '{}')", (cell.key, cell.to_json()))
    db.execute("INSERT INTO windows VALUES (7, 'measure', 0, 10, 0.5)")
    db.execute("INSERT INTO samples VALUES (7, 'train_throughput', 0, 160.0)")
    db.commit()
    db.close()
    reader = Store.read(path)  # migrated in memory only
    assert [c.samples for c in reader.cells(1)] == [{"train_throughput": [160.0]}]
    reader.close()
    store = Store.open(path)
    assert [c.samples for c in store.cells(1)] == [{"train_throughput": [160.0]}]
    export = fake_cell(scenario="export-onnx")
    store.save(1, outcome("unsupported", cell=export, error="no onnx exporter here"),
               process=0)
    unsupported = next(c for c in store.cells(1) if c.spec == export)
    assert unsupported.unsupported and not unsupported.failed and not unsupported.ok
    assert (unsupported.status, unsupported.error) == ("unsupported", "no onnx exporter here")
    assert store.finished(1) == {(cell.key, 0)}  # a resumed run tries it again
    store.close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM windows").fetchone() == (1,)
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError):  # the CHECK still refuses other words
        raw.execute("UPDATE cells SET status = 'maybe'")


def test_parity_is_cached_by_version_and_recorded_once_per_run(tmp_path: Path) -> None:
    from dlarena.parity.compare import Check, ParityResult

    store = Store.open(tmp_path / "r.db")
    run_id = store.create_run(plan_key="k", command="c", environment=ENV)
    result = ParityResult("mlp", "smoke", "torch", "tensorflow",
                          (Check("parameters", True, "same"),))
    assert store.cached_parity("v1") is None
    store.save_parity(run_id, "v1", result)
    store.save_parity(run_id, "v1", result)
    assert store.cached_parity("v1") == result
    assert store.parity(run_id) == [result]
    assert sqlite3.connect(tmp_path / "r.db").execute("SELECT COUNT(*) FROM parity").fetchone() == (1,)


def test_run_for_plan_finds_the_plans_run_or_creates_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    created, existed = store.run_for_plan(plan_key="k", command="c", environment=ENV)
    assert not existed
    assert store.run_for_plan(plan_key="k", command="c", environment=ENV) == (created, True)
    assert store.run_for_plan(plan_key="other", command="c", environment=ENV)[1] is False
    assert len(store.runs()) == 2
