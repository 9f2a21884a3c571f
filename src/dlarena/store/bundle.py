"""Bundles: one run of one store as a self-describing JSON document, and its merge into
another store, so the results of many machines can sit in one place.

A bundle holds the run's environment fingerprint (machine, versions, threads, definitions),
every worker process's row with its timing windows and metric samples (the manifest rides in
the details), and the same-model checks the run relied on. A run is known across stores by
its *identity*: a hash of its plan key, creation time and environment, which no store's row
id can be.

Nothing in a bundle is believed: its fields are checked one by one (`bundle_schema`), and its
identity is recomputed from its content. A bundle only ever adds to runs that were imported:
a run measured in this store is never changed by one, whatever identity it claims. Importing
merges without duplicates: a run already imported (by identity) gains only the worker
processes it lacks, or a success where it held a failure; importing the same bundle twice
changes nothing.

An imported run gets the plan key ``imported:<identity>``, so that a run on this machine
never resumes into another machine's cells, nor relies on another machine's same-model
checks; its original plan key and identity are kept in the environment under ``imported``
and go back into any bundle exported from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dlarena.cell import OK, CellSpec
from dlarena.parity.compare import ParityResult
from dlarena.store import bundle_schema

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


def parse(raw: bytes) -> Any:
    """The JSON document in `raw` (at most `MAX_BYTES`): refused, not coerced, where it
    holds NaN or an infinity (JSON has neither), or nests past what Python can read."""
    if len(raw) > bundle_schema.MAX_BYTES:
        raise BundleError(f"larger than {bundle_schema.MAX_BYTES // 2**20} MiB, more than any "
                          "run's bundle")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant,
                          parse_float=_finite)
    except UnicodeDecodeError as error:
        raise BundleError(f"not UTF-8 text: {error}") from None
    except RecursionError:
        raise BundleError("not JSON: nested too deeply") from None
    except json.JSONDecodeError as error:
        raise BundleError(f"not JSON: {error}") from None


def _no_constant(name: str) -> Any:
    raise BundleError(f"holds {name}, which is not a number JSON knows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BundleError(f"holds {text[:40]}, a number too large for a float")
    return value


def validate(document: Any, names: bundle_schema.Names) -> dict[str, Any]:
    """The bundle, checked before anything is written: its format and version, every field's
    type and range (`bundle_schema`), every cell's spec against the key it was stored under
    (a changed spec is a damaged bundle), each worker process once, the same-model checks
    against the columns they are filed under, and the run's identity against its content."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BundleError("not a dlarena bundle (made by `dlarena export`)")
    if document.get("version") != VERSION:
        raise BundleError(f"bundle version {bundle_schema.shown(document.get('version'))}"
                          f"; this dlarena reads version {VERSION}")
    try:
        bundle_schema.check_limits(document)
        bundle_schema.bundle(names)(document, "")
    except bundle_schema.SchemaError as error:
        raise BundleError(str(error)) from None
    run = document["run"]
    if IMPORTED in run["environment"]:
        raise BundleError(f"run.environment.{IMPORTED}: a bundle's run is never marked as "
                          "imported (dlarena export removes the mark)")
    identity = run_identity(run["plan_key"], run["created_utc"], run["environment"])
    if identity != run["identity"]:
        raise BundleError(f"run.identity {run['identity']} is not the hash of the run's "
                          f"content ({identity}): the run was changed after export")
    seen: set[tuple[str, int]] = set()
    for index, cell in enumerate(document["cells"]):
        spec = CellSpec.from_dict(cell["spec"]["cell"])
        if spec.key != cell["cell_key"]:
            raise BundleError(f"cells[{index}]: cell {cell['cell_key']} does not match its "
                              f"spec (key {spec.key})")
        if (spec.key, cell["process"]) in seen:
            raise BundleError(f"cells[{index}]: cell {spec.key} process {cell['process']} "
                              "appears twice")
        seen.add((spec.key, cell["process"]))
    for index, check in enumerate(document["parity"]):
        result = check["result"]
        for name in ("workload", "first", "second", "first_mode", "second_mode"):
            if check.get(name) != result.get(name):
                raise BundleError(f"parity[{index}].{name} differs from its result's")
        for side in ("first", "second"):
            mode = check.get(f"{side}_mode")
            if mode is not None and mode not in names.modes[check[side]]:
                raise BundleError(f"parity[{index}].{side}_mode: {bundle_schema.shown(mode)} "
                                  f"is not a mode of {check[side]}")
        passed = ParityResult.from_dict(result).passed
        if check.get("passed", passed) != passed:
            raise BundleError(f"parity[{index}].passed says {check['passed']}, its result "
                              f"says {passed}")
    return document


def import_run(db: sqlite3.Connection, document: dict[str, Any], *,
               imported_utc: str) -> ImportSummary:
    """Merge a validated bundle into the store behind `db`, inside the caller's transaction."""
    run = document["run"]
    identity = run["identity"]
    local = _local_run(db, identity)
    if local is not None:
        raise BundleError(f"its run is run {local} of this store, measured here; an import "
                          "never changes a run measured here")
    row = db.execute("SELECT id FROM runs WHERE plan_key = ?",
                     (f"{IMPORTED}:{identity}",)).fetchone()
    created = row is None
    if row is None:
        environment = {**run["environment"], IMPORTED: {
            "identity": identity, "plan_key": run["plan_key"], "imported_utc": imported_utc,
            "exported_by": document.get("exported_by")}}
        cursor = db.execute(
            "INSERT INTO runs (plan_key, created_utc, command, environment) VALUES (?,?,?,?)",
            (f"{IMPORTED}:{identity}", run["created_utc"], run["command"],
             json.dumps(environment, allow_nan=False)))
        assert cursor.lastrowid is not None
        run_id = cursor.lastrowid
    else:
        run_id = int(row[0])
    added = replaced = unchanged = 0
    for cell in document["cells"]:
        row = db.execute(
            "SELECT id, status FROM cells WHERE run_id = ? AND cell_key = ? AND process = ?",
            (run_id, cell["cell_key"], cell["process"])).fetchone()
        # A measurement replaces a failed or unsupported try of the same process, never
        # the other way round.
        if row is not None and not (row[1] != OK and cell["status"] == OK):
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
             int(ParityResult.from_dict(check["result"]).passed),
             json.dumps(check["result"], allow_nan=False),
             check.get("created_utc", imported_utc), check.get("first_mode"),
             check.get("second_mode"), run_id, check["version_key"]))
        parity_added += cursor.rowcount
    return ImportSummary(run_id, identity, created, added, replaced, unchanged, parity_added)


def _local_run(db: sqlite3.Connection, identity: str) -> int | None:
    """The run measured in this store (not imported) that has this identity, if any."""
    for run_id, plan_key, created_utc, environment in db.execute(
            "SELECT id, plan_key, created_utc, environment FROM runs WHERE plan_key NOT LIKE ? "
            "ORDER BY id", (f"{IMPORTED}:%",)):
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
         json.dumps(cell.get("details", {}), allow_nan=False)))
    cell_id = cursor.lastrowid
    for phase in _PHASES:
        db.executemany("INSERT INTO windows VALUES (?,?,?,?,?)",
                       [(cell_id, phase, i, int(steps), float(seconds))
                        for i, (steps, seconds) in enumerate(cell["windows"][phase])])
    db.executemany("INSERT INTO samples VALUES (?,?,?,?)",
                   [(cell_id, metric, i, float(value))
                    for metric, values in cell["samples"].items()
                    for i, value in enumerate(values)])
