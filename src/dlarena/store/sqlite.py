"""SQLite store: runs, cells (one row per worker process), timing windows, metric samples.

WAL mode; one transaction per finished worker process, so a crash or Ctrl-C loses at most
the cell in flight. The schema carries a version and is migrated forward when a run opens the
store; reading never writes (see `files`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from dlarena import jsonsafe
from dlarena.cell import ERROR, OK, UNSUPPORTED, CellSpec
from dlarena.errors import UsageError
from dlarena.executors.base import CellOutcome
from dlarena.parity.compare import ParityResult
from dlarena.store import bundle, files

APPLICATION = "dlarena"
SCHEMA_VERSION = 5

# Migration N brings a store from version N-1 to N. Never edit a released step; append.
_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        plan_key TEXT NOT NULL,
        created_utc TEXT NOT NULL,
        command TEXT NOT NULL,
        environment TEXT NOT NULL
    );
    CREATE INDEX runs_plan ON runs(plan_key);
    CREATE TABLE cells (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        cell_key TEXT NOT NULL,
        process INTEGER NOT NULL,
        workload TEXT NOT NULL,
        framework TEXT NOT NULL,
        mode TEXT NOT NULL,
        scenario TEXT NOT NULL,
        size TEXT NOT NULL,
        device TEXT NOT NULL,
        batch_size INTEGER NOT NULL,
        precision TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
        error TEXT,
        framework_version TEXT,
        device_name TEXT,
        started_utc TEXT NOT NULL,
        wall_seconds REAL NOT NULL,
        interpreter TEXT NOT NULL,
        stderr_tail TEXT NOT NULL,
        details TEXT NOT NULL,
        UNIQUE (run_id, cell_key, process)
    );
    CREATE TABLE windows (
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        phase TEXT NOT NULL CHECK (phase IN ('warmup', 'measure')),
        idx INTEGER NOT NULL,
        steps INTEGER NOT NULL,
        seconds REAL NOT NULL
    );
    CREATE TABLE samples (
        cell_id INTEGER NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        idx INTEGER NOT NULL,
        value REAL NOT NULL
    );
    CREATE INDEX samples_cell ON samples(cell_id);
    CREATE INDEX windows_cell ON windows(cell_id);
    """,
    2: """
    CREATE TABLE parity (
        id INTEGER PRIMARY KEY,
        run_id INTEGER REFERENCES runs(id),
        version_key TEXT NOT NULL,
        workload TEXT NOT NULL,
        first TEXT NOT NULL,
        second TEXT NOT NULL,
        passed INTEGER NOT NULL,
        result TEXT NOT NULL,
        created_utc TEXT NOT NULL
    );
    CREATE INDEX parity_version ON parity(version_key);
    """,
    # The mode each side was checked in; NULL in older rows, whose checks ran in the
    # frameworks' default modes.
    3: """
    ALTER TABLE parity ADD COLUMN first_mode TEXT;
    ALTER TABLE parity ADD COLUMN second_mode TEXT
    """,
    # Where a run's coordinator spent its time outside the worker processes (the matrix
    # peaks, the same-model checks, the whole invocation): one row per phase and invocation
    # (a resumed run adds its own). Each process's phases are in its cell's details.
    4: """
    CREATE TABLE run_phases (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        phase TEXT NOT NULL,
        seconds REAL NOT NULL,
        created_utc TEXT NOT NULL
    );
    CREATE INDEX run_phases_run ON run_phases(run_id)
    """,
    # A third status: unsupported, a recorded outcome (the framework cannot do what the cell
    # asks here; `error` holds why). SQLite cannot change a CHECK in place: the table is
    # rebuilt with the same columns and ids (its foreign keys off meanwhile: `_migrate`).
    5: """
    CREATE TABLE cells_v5 (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        cell_key TEXT NOT NULL,
        process INTEGER NOT NULL,
        workload TEXT NOT NULL,
        framework TEXT NOT NULL,
        mode TEXT NOT NULL,
        scenario TEXT NOT NULL,
        size TEXT NOT NULL,
        device TEXT NOT NULL,
        batch_size INTEGER NOT NULL,
        precision TEXT NOT NULL,
        spec TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'unsupported')),
        error TEXT,
        framework_version TEXT,
        device_name TEXT,
        started_utc TEXT NOT NULL,
        wall_seconds REAL NOT NULL,
        interpreter TEXT NOT NULL,
        stderr_tail TEXT NOT NULL,
        details TEXT NOT NULL,
        UNIQUE (run_id, cell_key, process)
    );
    INSERT INTO cells_v5 SELECT * FROM cells;
    DROP TABLE cells;
    ALTER TABLE cells_v5 RENAME TO cells
    """,
}


def _tables(version: int) -> set[str]:
    """The tables a store of this schema version has (created, less those dropped, under
    their last names)."""
    tables: set[str] = set()
    for step in range(1, version + 1):
        for created, dropped, renamed, new_name in re.findall(
                r"CREATE TABLE (\w+)|DROP TABLE (\w+)|ALTER TABLE (\w+) RENAME TO (\w+)",
                _MIGRATIONS[step]):
            tables = (tables | {created, new_name}) - {dropped, renamed, ""}
    return tables


def _check(db: sqlite3.Connection, path: Path, *, thorough: bool) -> int:
    """The schema version of a dlarena store (0: an SQLite file with nothing in it yet);
    anything else is refused in one line that names the file. Reads only. `thorough` also
    reads every page, for a writer about to add to the file."""
    try:
        tables = {row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return 0
        if "meta" not in tables:
            raise UsageError(f"--db {path} is an SQLite file of another program, not dlarena's")
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        if thorough:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise UsageError(f"--db {path} is damaged: {problems[0]}")
    except sqlite3.Error as error:
        raise UsageError(f"--db {path} is not a usable SQLite database: {error}") from None
    if meta.get("application") != APPLICATION:
        raise UsageError(f"--db {path} is not a dlarena database")
    text = meta.get("schema_version")
    if not isinstance(text, str) or not text.isdigit() or not 1 <= int(text) <= 10**6:
        raise UsageError(f"--db {path} has schema version {text!r}, not a version number: "
                         "it is damaged, or not dlarena's")
    version = int(text)
    if version > SCHEMA_VERSION:
        raise UsageError(f"--db {path} has schema {version}, newer than this dlarena's "
                         f"{SCHEMA_VERSION}: upgrade dlarena")
    missing = sorted(_tables(version) - tables)
    if missing:
        raise UsageError(f"--db {path} is damaged: schema {version} without table(s) "
                         f"{', '.join(missing)}")
    return version


def _connect_for_reading(path: Path) -> tuple[sqlite3.Connection, files.Lock | None]:
    try:
        return files.connect_for_reading(path)
    except (sqlite3.Error, OSError) as error:
        raise UsageError(f"cannot read --db {path}: {error}") from None


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _guarded(method: Callable[Concatenate[Store, _P], _R]) -> Callable[Concatenate[Store, _P], _R]:
    """A failure of SQLite (a damaged page, a full disk, a lock held too long) or a record
    that does not decode becomes one line that names the file, not a traceback."""

    @functools.wraps(method)
    def guarded(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            raise UsageError(f"results database {self.path}: {error}") from None

    return guarded


@contextmanager
def _decoding(path: Path) -> Iterator[None]:
    """Stored JSON that no longer parses is a damaged store, not a bug of the reader."""
    try:
        yield
    except bundle.BundleError:
        raise  # a bundle refused, not a record of the store
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"results database {path} holds a record dlarena cannot read: "
                         f"{type(error).__name__}: {error}") from None


@dataclass(frozen=True)
class StoredRun:
    id: int
    plan_key: str
    created_utc: str
    command: str
    environment: dict[str, Any]

    @property
    def machine_key(self) -> tuple[str, ...]:
        """What tells the machine it ran on from another: host, CPU, microarchitecture, GPU."""
        env = self.environment
        return (str(env.get("hostname")), str(env.get("cpu_model")),
                str(env.get("cpu_microarchitecture")),
                json.dumps(env.get("gpu_identity") or env.get("gpus")))


@dataclass(frozen=True)
class StoredCell:
    """One cell of a run, its worker processes pooled."""

    run_id: int
    spec: CellSpec
    processes: int
    statuses: tuple[str, ...]
    errors: tuple[str, ...]
    framework_version: str | None
    device_name: str | None
    # metric -> every sample, and metric -> per-process lists (between-process variance)
    samples: dict[str, list[float]]
    samples_by_process: dict[str, list[list[float]]]
    details: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    stderr_tails: tuple[str, ...] = field(default_factory=tuple)
    # metric -> the process number of each list in samples_by_process[metric]
    process_numbers: dict[str, list[int]] = field(default_factory=dict)
    # Each worker process's wall time, start-up included (what a round of it costs).
    wall_seconds: tuple[float, ...] = ()

    def by_round(self, metric: str) -> list[list[float]]:
        """samples_by_process[metric] with process N's windows at index N, and an empty list
        for a process that has none (it failed): what pairs rounds for a verdict."""
        numbers = self.process_numbers.get(metric, [])
        values = self.samples_by_process.get(metric, [])
        aligned: list[list[float]] = [[] for _ in range(max(numbers, default=-1) + 1)]
        for number, windows in zip(numbers, values, strict=True):
            aligned[number] = windows
        return aligned

    @property
    def ok(self) -> bool:
        return bool(self.statuses) and all(status == OK for status in self.statuses)

    @property
    def unsupported(self) -> bool:
        """The framework cannot do what the cell asks here (every process said so, with its
        reason in `error`): a recorded outcome, not a failure."""
        return bool(self.statuses) and all(status == UNSUPPORTED for status in self.statuses)

    @property
    def failed(self) -> bool:
        """Some process failed: neither measured nor unsupported."""
        return not self.ok and not self.unsupported

    @property
    def status(self) -> str:
        """The cell's outcome over its processes: ok, unsupported, or error."""
        return OK if self.ok else UNSUPPORTED if self.unsupported else ERROR

    @property
    def error(self) -> str | None:
        """The processes' errors (or reasons), each once."""
        return "; ".join(dict.fromkeys(self.errors)) if self.errors else None


class Store:
    """`Store.open(path)` to write (a run), `Store.read(path)` to read (reports); every write
    is its own transaction. Any SQLite failure is one line naming the file (`UsageError`)."""

    def __init__(self, connection: sqlite3.Connection, path: Path, *,
                 lock: files.Lock | None = None) -> None:
        self._db = connection
        self._lock = lock
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """For writing: created if missing, migrated if older, and refused, untouched, when it
        is not dlarena's, is newer, or is damaged. Holds the writer's lock until `close`."""
        path = Path(path)
        kind = files.inspect(path)
        if kind == "sqlite":
            # Every check reads through a read-only connection: a refused file stays as it was.
            connection, shared = _connect_for_reading(path)
            try:
                _check(connection, path, thorough=True)
            finally:
                connection.close()
                if shared is not None:
                    shared.release()
        else:
            files.create_folder(path)
        lock = files.lock_for_writing(path)
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            lock.release()
            raise UsageError(f"cannot open --db {path}: {error}") from None
        store = cls(connection, path, lock=lock)
        with _closed_on_failure(store, f"cannot write to --db {path}"):
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            store._migrate()
        return store

    @classmethod
    def read(cls, path: str | Path) -> Store:
        """For reading, and nothing else: opened read-only; an older schema is migrated in a
        copy in memory, never in the file."""
        path = Path(path)
        kind = files.inspect(path)
        if kind == "missing":
            raise UsageError(f"no results database at {path}: run `dlarena run` first")
        if kind == "empty":
            raise UsageError(f"--db {path} is an empty file, not a dlarena results database")
        connection, shared = _connect_for_reading(path)
        store = cls(connection, path, lock=shared)
        with _closed_on_failure(store, f"cannot read --db {path}"):
            version = _check(connection, path, thorough=False)
            if version == 0:
                raise UsageError(f"--db {path} holds no dlarena results: run `dlarena run` first")
            if version < SCHEMA_VERSION:
                store._db = files.in_memory(connection)
                store._migrate()
            # One snapshot for every query, should a writer commit while we read.
            store._db.execute("BEGIN")
        return store

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _migrate(self) -> None:
        """Bring the schema to this version, checked again inside the transaction: the file
        may have changed since it was first looked at."""
        # A step that rebuilds a table drops the old one, which with foreign keys on would
        # delete its rows' windows and samples (ON DELETE CASCADE). The pragma is ignored
        # inside a transaction, so it is set around it, and the keys are checked before the
        # migration commits (SQLite's procedure for changing a table's schema).
        enforced = self._db.execute("PRAGMA foreign_keys").fetchone()[0]
        self._db.execute("PRAGMA foreign_keys = OFF")
        try:
            with self._transaction():
                version = _check(self._db, self.path, thorough=False)
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _MIGRATIONS[step].split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                if version < SCHEMA_VERSION:
                    broken = self._db.execute("PRAGMA foreign_key_check").fetchone()
                    if broken is not None:
                        raise UsageError(f"--db {self.path} is damaged: a row of {broken[0]} "
                                         f"refers to a missing row of {broken[2]}")
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('application', ?), "
                        "('schema_version', ?)", (APPLICATION, str(SCHEMA_VERSION)))
        finally:
            self._db.execute(f"PRAGMA foreign_keys = {'ON' if enforced else 'OFF'}")

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    @_guarded
    def check_writable(self) -> None:
        """Fail now, not after the first cell, when the file cannot be written."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("ROLLBACK")

    # -- runs -------------------------------------------------------------------------------

    @_guarded
    def create_run(self, *, plan_key: str, command: str, environment: dict[str, Any]) -> int:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (plan_key, created_utc, command, environment) VALUES (?,?,?,?)",
                (plan_key, environment["created_utc"], command, jsonsafe.dumps(environment)),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @_guarded
    def run_for_plan(self, *, plan_key: str, command: str, environment: dict[str, Any]
                     ) -> tuple[int, bool]:
        """The latest run of this plan, or a new one, and whether it already existed: looked
        up and created in one transaction, so two coordinators of one plan share one run."""
        with self._transaction():
            row = self._db.execute(
                "SELECT id FROM runs WHERE plan_key = ? ORDER BY id DESC LIMIT 1", (plan_key,)
            ).fetchone()
            if row is not None:
                return int(row[0]), True
            cursor = self._db.execute(
                "INSERT INTO runs (plan_key, created_utc, command, environment) VALUES (?,?,?,?)",
                (plan_key, environment["created_utc"], command, jsonsafe.dumps(environment)),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid, False

    @_guarded
    def latest_run_for_plan(self, plan_key: str) -> int | None:
        row = self._db.execute(
            "SELECT id FROM runs WHERE plan_key = ? ORDER BY id DESC LIMIT 1", (plan_key,)
        ).fetchone()
        return None if row is None else int(row[0])

    @_guarded
    def runs(self) -> list[StoredRun]:
        rows = self._db.execute(
            "SELECT id, plan_key, created_utc, command, environment FROM runs ORDER BY id"
        ).fetchall()
        with _decoding(self.path):
            return [StoredRun(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def run(self, run_id: int) -> StoredRun:
        for stored in self.runs():
            if stored.id == run_id:
                return stored
        raise UsageError(f"no run {run_id} in {self.path}")

    @_guarded
    def add_run_phase(self, run_id: int, phase: str, seconds: float) -> None:
        """Record that one invocation of a run spent `seconds` in `phase`."""
        with self._transaction():
            self._db.execute("INSERT INTO run_phases VALUES (?,?,?,?)",
                             (run_id, phase, float(seconds), _now()))

    @_guarded
    def run_phases(self, run_id: int) -> dict[str, float]:
        """phase -> seconds over every invocation of the run (none for an imported run)."""
        rows = self._db.execute(
            "SELECT phase, SUM(seconds) FROM run_phases WHERE run_id = ? GROUP BY phase "
            "ORDER BY MIN(rowid)", (run_id,)).fetchall()
        return {str(phase): float(seconds) for phase, seconds in rows}

    # -- cells ------------------------------------------------------------------------------

    @_guarded
    def finished(self, run_id: int) -> set[tuple[str, int]]:
        """(cell key, process) pairs measured successfully: a resumed run skips them."""
        rows = self._db.execute(
            "SELECT cell_key, process FROM cells WHERE run_id = ? AND status = 'ok'", (run_id,)
        )
        return {(key, int(process)) for key, process in rows}

    @_guarded
    def save(self, run_id: int, outcome: CellOutcome, *, process: int) -> None:
        """Store one worker process's outcome; replaces an earlier failed try of it."""
        cell = outcome.cell
        payload = outcome.payload
        details = dict(outcome.details)
        for name in ("steps_per_window", "warmup_capped", "clock_resolution", "manifest",
                     "throughput_metric", "pid", "scenario_details", "phases"):
            if name in payload:
                details[name] = payload[name]
        with self._transaction():
            self._db.execute(
                "DELETE FROM cells WHERE run_id = ? AND cell_key = ? AND process = ?",
                (run_id, cell.key, process),
            )
            cursor = self._db.execute(
                """INSERT INTO cells (run_id, cell_key, process, workload, framework, mode,
                scenario, size, device, batch_size, precision, spec, status, error,
                framework_version, device_name, started_utc, wall_seconds, interpreter,
                stderr_tail, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                (
                    run_id, cell.key, process, cell.workload, cell.framework, cell.mode,
                    cell.scenario, cell.size, cell.device, cell.batch_size, cell.precision,
                    cell.to_json(), outcome.status, outcome.error,
                    payload.get("framework_version"), payload.get("device_name"),
                    outcome.started_utc, outcome.wall_seconds, outcome.interpreter,
                    outcome.stderr_tail, jsonsafe.dumps(details),
                ),
            )
            cell_id = cursor.lastrowid
            for phase in ("warmup", "measure"):
                windows = payload.get("warmup" if phase == "warmup" else "windows", [])
                self._db.executemany(
                    "INSERT INTO windows VALUES (?,?,?,?,?)",
                    [(cell_id, phase, i, int(s), float(t)) for i, (s, t) in enumerate(windows)],
                )
            rows = [
                (cell_id, name, i, value)
                for name, values in _samples(cell, payload).items()
                for i, value in enumerate(values)
            ]
            self._db.executemany("INSERT INTO samples VALUES (?,?,?,?)", rows)

    # -- bundles (many machines) -----------------------------------------------------------

    @_guarded
    def export_run(self, run_id: int, *, exported_by: str) -> dict[str, Any]:
        """One run as a self-describing bundle (see `bundle`)."""
        self.run(run_id)  # a missing run is the user's mistake, named
        with _decoding(self.path):
            return bundle.export_run(self._db, run_id, exported_by=exported_by)

    @_guarded
    def import_run(self, document: dict[str, Any], *,
                   trial: Callable[[int], None] | None = None) -> bundle.ImportSummary:
        """Merge a validated bundle, in one transaction: all of it or, on a failure, none.
        `trial(run_id)` reads the merged run before it is committed; what it raises undoes
        the import (a run that no report can read is not stored)."""
        with self._transaction(), _decoding(self.path):
            summary = bundle.import_run(self._db, document, imported_utc=_now())
            if trial is not None:
                trial(summary.run_id)
            return summary

    # -- parity ------------------------------------------------------------------------------

    @_guarded
    def cached_parity(self, version_key: str) -> ParityResult | None:
        """The latest check of exactly these implementations, from any run measured here:
        a check imported from another machine is shown with that machine's run, never
        believed for a run of this one."""
        row = self._db.execute(
            """SELECT p.result FROM parity p LEFT JOIN runs r ON r.id = p.run_id
            WHERE p.version_key = ? AND (r.plan_key IS NULL OR r.plan_key NOT LIKE ?)
            ORDER BY p.id DESC LIMIT 1""",
            (version_key, f"{bundle.IMPORTED}:%"),
        ).fetchone()
        if row is None:
            return None
        with _decoding(self.path):
            return ParityResult.from_dict(json.loads(row[0]))

    @_guarded
    def save_parity(self, run_id: int, version_key: str, result: ParityResult) -> None:
        """Record that a run relies on this check; once per run and version."""
        with self._transaction():
            self._db.execute(
                """INSERT INTO parity (run_id, version_key, workload, first, second, passed,
                result, created_utc, first_mode, second_mode) SELECT ?,?,?,?,?,?,?,?,?,?
                WHERE NOT EXISTS (SELECT 1 FROM parity WHERE run_id = ? AND version_key = ?)""",
                (run_id, version_key, result.workload, result.first, result.second,
                 int(result.passed), jsonsafe.dumps(result.to_dict()), _now(), result.first_mode,
                 result.second_mode, run_id, version_key),
            )

    @_guarded
    def parity(self, run_id: int) -> list[ParityResult]:
        """The checks a run relied on, latest per (workload, pair of framework/mode)."""
        rows = self._db.execute(
            """SELECT workload, first, first_mode, second, second_mode, result FROM parity
            WHERE run_id = ? ORDER BY id""",
            (run_id,),
        ).fetchall()
        with _decoding(self.path):
            latest = {tuple(row[:5]): ParityResult.from_dict(json.loads(row[5])) for row in rows}
        return list(latest.values())

    @_guarded
    def cells(self, run_id: int) -> list[StoredCell]:
        rows = self._db.execute(
            """SELECT id, cell_key, process, spec, status, error, framework_version,
            device_name, details, stderr_tail, wall_seconds FROM cells WHERE run_id = ?
            ORDER BY id""",
            (run_id,),
        ).fetchall()
        samples: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for cell_id, metric, value in self._db.execute(
            """SELECT s.cell_id, s.metric, s.value FROM samples s JOIN cells c ON c.id = s.cell_id
            WHERE c.run_id = ? ORDER BY s.cell_id, s.metric, s.idx""",
            (run_id,),
        ):
            samples[cell_id][metric].append(value)

        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row[1], []).append(row)
        cells = []
        for processes in grouped.values():
            pooled: dict[str, list[float]] = defaultdict(list)
            by_process: dict[str, list[list[float]]] = defaultdict(list)
            numbers: dict[str, list[int]] = defaultdict(list)
            for row in processes:
                for metric, values in samples[row[0]].items():
                    pooled[metric].extend(values)
                    by_process[metric].append(values)
                    numbers[metric].append(row[2])
            with _decoding(self.path):
                spec = CellSpec.from_json(processes[0][3])
                details = tuple(json.loads(row[8]) for row in processes)
            cells.append(StoredCell(
                run_id=run_id,
                spec=spec,
                processes=len(processes),
                statuses=tuple(row[4] for row in processes),
                errors=tuple(row[5] for row in processes if row[5]),
                framework_version=next((r[6] for r in processes if r[6]), None),
                device_name=next((r[7] for r in processes if r[7]), None),
                samples=dict(pooled),
                samples_by_process=dict(by_process),
                details=details,
                stderr_tails=tuple(row[9] for row in processes),
                process_numbers=dict(numbers),
                wall_seconds=tuple(float(row[10]) for row in processes),
            ))
        return cells


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _samples(cell: CellSpec, payload: dict[str, Any]) -> dict[str, list[float]]:
    """Every value to keep: one throughput per timed window, and the scalar metrics."""
    values: dict[str, list[float]] = {}
    throughput_metric = payload.get("throughput_metric")
    if throughput_metric:
        items = payload.get("items_per_step", cell.batch_size)
        values[throughput_metric] = [
            steps * items / seconds for steps, seconds in payload["windows"]
        ]
    for name, samples in payload.get("samples", {}).items():
        values[name] = [float(value) for value in samples]
    for name, value in payload.get("metrics", {}).items():
        values[name] = [float(value)]
    return values


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            # The error in flight (a Ctrl-C, a full disk) is the one to report, not this.
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")


@contextmanager
def _closed_on_failure(store: Store, failure: str) -> Iterator[None]:
    """While a store is being opened: any failure closes it (and its lock), and a SQLite error
    becomes one line naming the file."""
    try:
        yield
    except sqlite3.Error as error:
        store.close()
        raise UsageError(f"{failure}: {error}") from None
    except UsageError:
        store.close()
        raise
