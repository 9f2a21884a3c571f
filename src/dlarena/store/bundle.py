"""Bundles: one run of one store as a self-describing JSON document, and its merge into
another store, so the results of many machines can sit in one place.

A bundle holds the run's environment fingerprint (machine, versions, threads, definitions),
every worker process's row with its timing windows and metric samples (the manifest rides in
the details), and the same-model checks the run relied on. A run is known across stores by
its *identity*: a hash of its plan key, creation time and environment, which no store's row
id can be. Importing merges without duplicates: a run already present (by identity) gains
only the worker processes it lacks, or a success where it held a failure; importing the same
bundle twice changes nothing.

An imported run gets the plan key ``imported:<identity>``, so that a run on this machine
never resumes into another machine's cells; its original plan key and identity are kept in
the environment under ``imported`` and go back into any bundle exported from it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dlarena.cell import CellSpec

FORMAT = "dlarena-bundle"
VERSION = 1
IMPORTED = "imported"  # the environment's key for where an imported run came from
_PHASES = ("warmup", "measure")


class BundleError(ValueError):
    """A document that is not a bundle this version can read (the caller names the file)."""


@dataclass(frozen=True)
class ImportSummary:
    run_id: int
    identity: str
    created: bool  # a new run, or cells merged into one already here
    added: int  # worker processes new to the store
    replaced: int  # failed processes replaced by the bundle's successful ones
    unchanged: int  # processes the store already had
    parity_added: int


def run_identity(plan_key: str, created_utc: str, environment: dict[str, Any]) -> str:
    """The run's name in every store: the same run hashes the same wherever it was copied."""
    if IMPORTED in environment:
        return str(environment[IMPORTED]["identity"])
    text = json.dumps({"plan_key": plan_key, "created_utc": created_utc,
                       "environment": environment}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def export_run(db: sqlite3.Connection, run_id: int, *, exported_by: str) -> dict[str, Any]:
    """The bundle of one stored run (the caller has checked the run exists)."""
    plan_key, created_utc, command, environment_text = db.execute(
        "SELECT plan_key, created_utc, command, environment FROM runs WHERE id = ?", (run_id,)
    ).fetchone()
    environment = json.loads(environment_text)
    identity = run_identity(plan_key, created_utc, environment)
    origin = environment.pop(IMPORTED, None)
    if origin is not None:
        plan_key = origin["plan_key"]
    cells = []
    for row in db.execute(
            """SELECT id, cell_key, process, spec, status, error, framework_version, device_name,
            started_utc, wall_seconds, interpreter, stderr_tail, details FROM cells
            WHERE run_id = ? ORDER BY id""", (run_id,)).fetchall():
        windows = {phase: [[steps, seconds] for steps, seconds in db.execute(
            "SELECT steps, seconds FROM windows WHERE cell_id = ? AND phase = ? ORDER BY idx",
            (row[0], phase))] for phase in _PHASES}
        samples: dict[str, list[float]] = {}
        for metric, value in db.execute(
                "SELECT metric, value FROM samples WHERE cell_id = ? ORDER BY metric, idx",
                (row[0],)):
            samples.setdefault(metric, []).append(value)
        cells.append({
            "cell_key": row[1], "process": row[2], "spec": json.loads(row[3]), "status": row[4],
            "error": row[5], "framework_version": row[6], "device_name": row[7],
            "started_utc": row[8], "wall_seconds": row[9], "interpreter": row[10],
            "stderr_tail": row[11], "details": json.loads(row[12]), "windows": windows,
            "samples": samples,
        })
    parity = [
        {"version_key": r[0], "workload": r[1], "first": r[2], "second": r[3],
         "passed": bool(r[4]), "result": json.loads(r[5]), "created_utc": r[6],
         "first_mode": r[7], "second_mode": r[8]}
        for r in db.execute(
            """SELECT version_key, workload, first, second, passed, result, created_utc,
            first_mode, second_mode FROM parity WHERE run_id = ? ORDER BY id""", (run_id,))
    ]
    return {
        "format": FORMAT, "version": VERSION, "exported_by": exported_by,
        "exported_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": {"identity": identity, "plan_key": plan_key, "created_utc": created_utc,
                "command": command, "environment": environment},
        "cells": cells, "parity": parity,
    }


def validate(document: Any) -> dict[str, Any]:
    """The bundle, checked before anything is written: its format, its version, and every
    cell's spec against the key it was stored under (a changed spec is a damaged bundle)."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BundleError("not a dlarena bundle (made by `dlarena export`)")
    if document.get("version") != VERSION:
        raise BundleError(f"bundle version {document.get('version')!r}; this dlarena reads "
                          f"version {VERSION}")
    try:
        run = document["run"]
        for name in ("identity", "plan_key", "created_utc", "command"):
            if not isinstance(run[name], str):
                raise BundleError(f"run {name} is not text")
        if not isinstance(run["environment"], dict):
            raise BundleError("run environment is not an object")
        for cell in document["cells"]:
            spec = CellSpec.from_json(json.dumps(cell["spec"]))
            if spec.key != cell["cell_key"]:
                raise BundleError(f"cell {cell['cell_key']!r} does not match its spec "
                                  f"(key {spec.key})")
            if cell["status"] not in ("ok", "error") or not isinstance(cell["process"], int):
                raise BundleError(f"cell {cell['cell_key']!r} has a bad status or process")
            # Numbers that will not convert fail here, not half-way through the import.
            _ = [(int(steps), float(seconds))
                 for phase in _PHASES for steps, seconds in cell["windows"][phase]]
            _ = [float(value) for values in cell["samples"].values() for value in values]
        for check in document["parity"]:
            missing = [name for name in ("version_key", "workload", "first", "second",
                                         "result") if name not in check]
            if missing:
                raise BundleError(f"a same-model check lacks {', '.join(missing)}")
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"damaged bundle: {type(error).__name__}: {error}") from None
    return document


def import_run(db: sqlite3.Connection, document: dict[str, Any], *,
               imported_utc: str) -> ImportSummary:
    """Merge a validated bundle into the store behind `db`, inside the caller's transaction."""
    run = document["run"]
    identity = run["identity"]
    run_id = _find_run(db, identity)
    created = run_id is None
    if run_id is None:
        environment = {**run["environment"], IMPORTED: {
            "identity": identity, "plan_key": run["plan_key"], "imported_utc": imported_utc,
            "exported_by": document.get("exported_by")}}
        cursor = db.execute(
            "INSERT INTO runs (plan_key, created_utc, command, environment) VALUES (?,?,?,?)",
            (f"imported:{identity}", run["created_utc"], run["command"],
             json.dumps(environment)))
        assert cursor.lastrowid is not None
        run_id = cursor.lastrowid
    added = replaced = unchanged = 0
    for cell in document["cells"]:
        row = db.execute(
            "SELECT id, status FROM cells WHERE run_id = ? AND cell_key = ? AND process = ?",
            (run_id, cell["cell_key"], cell["process"])).fetchone()
        if row is not None and not (row[1] == "error" and cell["status"] == "ok"):
            unchanged += 1
            continue
        if row is not None:
            db.execute("DELETE FROM cells WHERE id = ?", (row[0],))
            replaced += 1
        else:
            added += 1
        _insert_cell(db, run_id, cell)
    parity_added = 0
    for check in document["parity"]:
        cursor = db.execute(
            """INSERT INTO parity (run_id, version_key, workload, first, second, passed, result,
            created_utc, first_mode, second_mode) SELECT ?,?,?,?,?,?,?,?,?,?
            WHERE NOT EXISTS (SELECT 1 FROM parity WHERE run_id = ? AND version_key = ?)""",
            (run_id, check["version_key"], check["workload"], check["first"], check["second"],
             int(bool(check.get("passed"))), json.dumps(check["result"]),
             check.get("created_utc", imported_utc), check.get("first_mode"),
             check.get("second_mode"), run_id, check["version_key"]))
        parity_added += cursor.rowcount
    return ImportSummary(run_id, identity, created, added, replaced, unchanged, parity_added)


def _find_run(db: sqlite3.Connection, identity: str) -> int | None:
    for run_id, plan_key, created_utc, environment in db.execute(
            "SELECT id, plan_key, created_utc, environment FROM runs ORDER BY id"):
        if run_identity(plan_key, created_utc, json.loads(environment)) == identity:
            return int(run_id)
    return None


def _insert_cell(db: sqlite3.Connection, run_id: int, cell: dict[str, Any]) -> None:
    spec = CellSpec.from_json(json.dumps(cell["spec"]))
    cursor = db.execute(
        """INSERT INTO cells (run_id, cell_key, process, workload, framework, mode, scenario,
        size, device, batch_size, precision, spec, status, error, framework_version,
        device_name, started_utc, wall_seconds, interpreter, stderr_tail, details)
        VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        (run_id, spec.key, cell["process"], spec.workload, spec.framework, spec.mode,
         spec.scenario, spec.size, spec.device, spec.batch_size, spec.precision,
         json.dumps(cell["spec"], sort_keys=True), cell["status"], cell.get("error"),
         cell.get("framework_version"), cell.get("device_name"), cell["started_utc"],
         float(cell["wall_seconds"]), cell["interpreter"], cell.get("stderr_tail", ""),
         json.dumps(cell.get("details", {}))))
    cell_id = cursor.lastrowid
    for phase in _PHASES:
        db.executemany("INSERT INTO windows VALUES (?,?,?,?,?)",
                       [(cell_id, phase, i, int(steps), float(seconds))
                        for i, (steps, seconds) in enumerate(cell["windows"][phase])])
    db.executemany("INSERT INTO samples VALUES (?,?,?,?)",
                   [(cell_id, metric, i, float(value))
                    for metric, values in cell["samples"].items()
                    for i, value in enumerate(values)])
