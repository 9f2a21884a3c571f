"""Bundles as a hostile user would write them: nothing in one can change a run measured here,
its verdicts, or any later report. Every refusal is one line, exit 2, the store unchanged."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dlarena.cli.main import main
from dlarena.store import Store, bundle_schema
from dlarena.store.bundle import run_identity
from tests.conftest import RecordingObserver
from tests.store.test_bundles import export, measure

pytestmark = pytest.mark.usefixtures("no_fault")

Bundle = dict[str, Any]


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Bundle]:
    """A store with one run measured here (run 1), and that run's bundle."""
    folder = tmp_path_factory.mktemp("origin")
    measure(folder / "a.db")
    return folder / "a.db", export(folder / "a.db", folder / "a.bundle")


def reseal(bundle: Bundle) -> Bundle:
    """What a forger does after changing the run: recompute the identity from the content."""
    run = bundle["run"]
    run["identity"] = run_identity(run["plan_key"], run["created_utc"], run["environment"])
    return bundle


def snapshot(db: Path) -> str:
    """Everything a store holds, as one hash (the file's bytes move with SQLite's pages)."""
    import sqlite3

    if not db.exists():
        return "no store"
    connection = sqlite3.connect(db)
    try:
        text = "\n".join(repr(connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall())
                         for table in ("runs", "cells", "windows", "samples", "parity"))
    finally:
        connection.close()
    return hashlib.sha256(text.encode()).hexdigest()


def refused(db: Path, bundle_file: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Import `bundle_file` into `db`, assert a one-line refusal that changed nothing."""
    before = snapshot(db)
    capsys.readouterr()
    assert main(["import", str(bundle_file), "--db", str(db)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("dlarena: error: bundle ") and error.count("\n") == 1, error
    assert snapshot(db) == before
    return error


def write(path: Path, bundle: Bundle) -> Path:
    path.write_text(json.dumps(bundle))
    return path


def _set(path: tuple[Any, ...], value: Any) -> Callable[[Bundle], None]:
    def change(bundle: Bundle) -> None:
        target = bundle
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return change


def _each(*changes: Callable[[Bundle], None]) -> Callable[[Bundle], None]:
    def change(bundle: Bundle) -> None:
        for one in changes:
            one(bundle)
    return change


CELL = ("cells", 0)
SPEC = (*CELL, "spec", "cell")
FINDING = ("parity", 0, "result", "audits", 0, "findings", 0)
# Field shapes that once raised a traceback at import, or imported and then broke reports.
MALFORMED: dict[str, Callable[[Bundle], None]] = {
    "spec is a list": _set((*CELL, "spec"), [1, 2]),
    "process is 2^70": _set((*CELL, "process"), 2**70),
    "process is true": _set((*CELL, "process"), True),
    "process is -5": _set((*CELL, "process"), -5),
    "process is 1.7": _set((*CELL, "process"), 1.7),
    "window steps 1.7": _set((*CELL, "windows", "measure", 0, 0), 1.7),
    "window of 0 seconds": _set((*CELL, "windows", "measure", 0, 1), 0),
    "window is a number": _set((*CELL, "windows", "measure", 0), 5),
    "samples are text": _set((*CELL, "samples", "train_throughput"), "fast"),
    "sample is true": _set((*CELL, "samples", "train_throughput", 0), True),
    "status unknown": _set((*CELL, "status"), "maybe"),
    "wall seconds text": _set((*CELL, "wall_seconds"), "1s"),
    "started not a time": _set((*CELL, "started_utc"), "yesterday"),
    "details a list": _set((*CELL, "details"), []),
    "manifest a list": _set((*CELL, "details", "manifest"), [1]),
    "stderr a number": _set((*CELL, "stderr_tail"), 7),
    "unknown framework": _set((*SPEC, "framework"), "evil"),
    "unknown workload": _set((*SPEC, "workload"), "nope"),
    "unknown mode": _set((*SPEC, "mode"), "warp"),
    "unknown scenario": _set((*SPEC, "scenario"), "mining"),
    "unknown size": _set((*SPEC, "size"), "huge"),
    "batch size 1.7": _set((*SPEC, "batch_size"), 1.7),
    "threads a dict of text": _set((*SPEC, "threads"), {"intra_op": "x", "inter_op": 1}),
    "parity result not a check": _set(("parity", 0, "result"), {"checks": "x"}),
    "parity finding expects 0": _set((*FINDING, "expected"), 0),
    "parity audit without findings": _set(("parity", 0, "result", "audits", 0, "findings"),
                                          []),
    "parity filed under another workload": _set(("parity", 0, "workload"), "cnn"),
    "parity mode unknown": _each(_set(("parity", 0, "first_mode"), "warp"),
                                 _set(("parity", 0, "result", "first_mode"), "warp")),
    "parity passed disagrees": _set(("parity", 0, "passed"), False),
    "hostname a number": _set(("run", "environment", "hostname"), 5),
    "cpus text": _set(("run", "environment", "cpus_available"), "many"),
    "gpus text": _set(("run", "environment", "gpus"), "x"),
    "versions a list": _set(("run", "environment", "framework_versions"), ["fake"]),
    "ceiling negative": _set(("run", "environment", "physical_ceiling_gflops"), -1),
    "definitions damaged": _set(("run", "environment", "definitions", "frameworks"), 5),
    "stopping damaged": _set(("run", "environment", "stopping"), {"alpha": "x"}),
    "marked imported": _set(("run", "environment", "imported"), {"identity": "0" * 32}),
    "run created not a time": _set(("run", "created_utc"), 5),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_field_is_refused_in_one_line(
        origin: tuple[Path, Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        case: str) -> None:
    db = tmp_path / "a.db"
    shutil.copy(origin[0], db)
    bundle = copy.deepcopy(origin[1])
    bundle["run"]["environment"]["hostname"] = "elsewhere"  # not a re-import of run 1
    MALFORMED[case](bundle)
    error = refused(db, write(tmp_path / "b", reseal(bundle)), capsys)
    assert "identity" not in error  # the field was caught, not the seal


def test_a_bundle_refused_after_its_trial_leaves_no_new_store(
        origin: tuple[Path, Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = copy.deepcopy(origin[1])
    MALFORMED["stopping damaged"](bundle)
    error = refused(tmp_path / "new.db", write(tmp_path / "b", reseal(bundle)), capsys)
    assert "cannot be reported" in error and os.listdir(tmp_path) == ["b"]


def test_a_duplicate_cell_is_refused(origin: tuple[Path, Bundle], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bundle = copy.deepcopy(origin[1])
    bundle["cells"].append(copy.deepcopy(bundle["cells"][0]))
    bundle["cells"][-1]["samples"]["train_throughput"] = [1e9, 1e9, 1e9]
    error = refused(tmp_path / "c.db", write(tmp_path / "b", bundle), capsys)
    assert "appears twice" in error


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_number_json_cannot_hold_is_refused(
        origin: tuple[Path, Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        number: str) -> None:
    text = json.dumps(origin[1])
    first = origin[1]["cells"][0]["samples"]["train_throughput"][0]
    assert text.count(repr(first)) == 1
    (tmp_path / "b").write_text(text.replace(repr(first), number))
    error = refused(tmp_path / "c.db", tmp_path / "b", capsys)
    assert number in error


def test_deep_nesting_non_utf8_and_endless_files_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "deep").write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in refused(tmp_path / "c.db", tmp_path / "deep", capsys)
    (tmp_path / "shallow").write_text(
        '{"format": "dlarena-bundle", "version": 1, "x": ' + "[" * 40 + "]" * 40 + "}")
    assert "nested more than 32" in refused(tmp_path / "c.db", tmp_path / "shallow", capsys)
    (tmp_path / "latin").write_bytes(b'{"format": "\xff"}')
    assert "not UTF-8" in refused(tmp_path / "c.db", tmp_path / "latin", capsys)
    assert "larger than 64 MiB" in refused(tmp_path / "c.db", Path("/dev/zero"), capsys)


def test_a_bundle_over_the_size_cap_is_refused_before_it_is_parsed(
        origin: tuple[Path, Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "b", origin[1])
    monkeypatch.setattr(bundle_schema, "MAX_BYTES", path.stat().st_size - 1)
    assert "larger than" in refused(tmp_path / "c.db", path, capsys)
    monkeypatch.setattr(bundle_schema, "MAX_BYTES", path.stat().st_size)
    assert main(["import", str(path), "--db", str(tmp_path / "c.db")]) == 0


def test_a_bundle_cannot_claim_a_run_measured_here(
        origin: tuple[Path, Bundle], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The attack of the issue: another host's bundle under run 1's identity, with a sample
    that would move run 1's median to 1e9."""
    db = tmp_path / "a.db"
    shutil.copy(origin[0], db)
    forged = copy.deepcopy(origin[1])
    forged["run"]["environment"]["hostname"] = "attacker"
    for cell in forged["cells"]:
        cell["process"] = 1
        cell["samples"]["train_throughput"] = [1e9, 1e9, 1e9]
    error = refused(db, write(tmp_path / "forged", forged), capsys)
    assert "is not the hash of the run's content" in error
    # Sealed honestly, it is another run: imported beside run 1, which keeps its figures.
    before = {c.spec.key: c.samples for c in _cells(db, 1)}
    assert main(["import", str(write(tmp_path / "sealed", reseal(forged))),
                 "--db", str(db)]) == 0
    assert "new run 2" in capsys.readouterr().out
    assert {c.spec.key: c.samples for c in _cells(db, 1)} == before
    # The unforged bundle of run 1 itself is refused by the store that measured it.
    assert "is run 1 of this store, measured here" in refused(
        db, write(tmp_path / "own", origin[1]), capsys)


def _cells(db: Path, run_id: int) -> list[Any]:
    store = Store.read(db)
    try:
        return store.cells(run_id)
    finally:
        store.close()


def test_an_imported_same_model_check_is_never_a_local_verdict(
        origin: tuple[Path, Bundle], tmp_path: Path) -> None:
    """Another machine's check of the same implementations, forged to fail: shown with its
    run, while a run here checks for itself and passes."""
    forged = copy.deepcopy(origin[1])
    forged["run"]["environment"]["hostname"] = "elsewhere"
    check = forged["parity"][0]
    check["result"]["checks"][0].update(passed=False, detail="forged")
    check["passed"] = False
    db = tmp_path / "c.db"
    assert main(["import", str(write(tmp_path / "b", reseal(forged))), "--db", str(db)]) == 0
    store = Store.open(db)
    try:
        assert store.cached_parity(check["version_key"]) is None
        [imported] = store.parity(1)
        assert not imported.passed and imported.checks[0].detail == "forged"
    finally:
        store.close()
    observer = RecordingObserver()
    from dlarena.engine.runner import run
    from dlarena.executors.local import LocalExecutor
    from tests.store.test_bundles import TWO_MODES

    store = Store.open(db)
    try:
        summary = run(TWO_MODES, store=store, executor=LocalExecutor(), interpreters={},
                      observer=observer)
        [(results, cached)] = [value for kind, value in observer.events if kind == "checked"]
        assert cached is False and all(result.passed for result in results)
        assert all(result.passed for result in store.parity(summary.run_id))
    finally:
        store.close()


# -- any field, any value ----------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, element in value.items():
            found += _paths(element, (*prefix, key))
    elif isinstance(value, list):
        for index, element in enumerate(value[:2]):
            found += _paths(element, (*prefix, index))
    return found


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_field_set_to_any_value_is_refused_or_reported(
        origin: tuple[Path, Bundle], tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str], data: st.DataObject) -> None:
    """Whatever one field holds, `import` refuses it in one line leaving the store as it was,
    or imports a run that every report reads, and run 1 keeps its figures."""
    folder = tmp_path_factory.mktemp("fuzz")
    db = folder / "a.db"
    shutil.copy(origin[0], db)
    bundle = copy.deepcopy(origin[1])
    bundle["run"]["environment"]["hostname"] = "elsewhere"
    path = data.draw(st.sampled_from(_paths(bundle)))
    _set(path, data.draw(_JSON))(bundle)
    if path[-1] != "identity":
        with contextlib.suppress(KeyError, TypeError):  # no run left to seal
            reseal(bundle)
    file = write(folder / "b", bundle)
    before = snapshot(db)
    run_one = {c.spec.key: c.samples for c in _cells(db, 1)}
    capsys.readouterr()
    code = main(["import", str(file), "--db", str(db)])
    out = capsys.readouterr()
    event(f"exit {code}")
    if code == 2:
        assert out.err.count("\n") == 1 and snapshot(db) == before
        return
    assert code == 0, out
    for argv in (["report", "--run", "2"], ["report", "--run", "2", "--format", "json"],
                 ["report", "--machines"], ["report", "--machines", "--format", "markdown"]):
        capsys.readouterr()
        assert main([*argv, "--db", str(db)]) == 0, argv
        if "json" in argv:
            json.loads(capsys.readouterr().out, parse_constant=_no_constant)
    assert {c.spec.key: c.samples for c in _cells(db, 1)} == run_one
    assert all(math.isfinite(v) for c in _cells(db, 2) for vs in c.samples.values() for v in vs)


def _same_kind(value: Any) -> st.SearchStrategy[Any]:
    """Another value of the JSON type `value` has: any whole number, real, text or flag."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(min_value=-(2**63), max_value=2**63 - 1)
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        return st.text(max_size=20)
    return st.just(value)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_leaf_set_to_any_value_of_its_type_is_refused_or_reported(
        origin: tuple[Path, Bundle], tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str], data: st.DataObject) -> None:
    """Values of the right type, but any: huge, negative, tiny, text with controls. Each
    bundle is refused in one line or imported into a run whose every report reads."""
    folder = tmp_path_factory.mktemp("leaf")
    db = folder / "a.db"
    shutil.copy(origin[0], db)
    bundle = copy.deepcopy(origin[1])
    bundle["run"]["environment"]["hostname"] = "elsewhere"
    leaves = [path for path in _paths(bundle) if not isinstance(_get(bundle, path), dict | list)
              and path[-1] != "identity"]
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(leaves))
        _set(path, data.draw(_same_kind(_get(bundle, path))))(bundle)
    file = write(folder / "b", reseal(bundle))
    before = snapshot(db)
    capsys.readouterr()
    code = main(["import", str(file), "--db", str(db)])
    out = capsys.readouterr()
    event(f"exit {code}")
    if code == 2:
        assert out.err.count("\n") == 1 and snapshot(db) == before
        return
    assert code == 0, out
    for argv in (["report", "--run", "2", "--format", "json"], ["report", "--machines"],
                 ["compare", "1", "2"]):
        capsys.readouterr()
        assert main([*argv, "--db", str(db)]) == 0, argv
        if "json" in argv:
            json.loads(capsys.readouterr().out, parse_constant=_no_constant)


def _get(bundle: Bundle, path: tuple[Any, ...]) -> Any:
    value: Any = bundle
    for step in path:
        value = value[step]
    return value


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} in a JSON report")
