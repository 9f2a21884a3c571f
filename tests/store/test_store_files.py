"""Opening the store as a hostile user meets it: refused files stay byte-identical, reading
never writes (not even in a read-only folder), a damaged store is one line naming the file."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlarena.cli import main
from dlarena.errors import UsageError
from dlarena.store import SCHEMA_VERSION, Store
from tests.store.test_store import ENV, outcome

RUN = ["run", "--suite", "smoke", "--frameworks", "fake", "--workloads", "mlp",
       "--scenarios", "train", "--min-window", "0.01", "--windows", "1", "--no-parity"]


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Runs the command in this process: exit 2 and one line on stderr, which it returns."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def stored(path: Path, runs: int = 2) -> Path:
    """A closed store with `runs` runs of a few cells each (several pages)."""
    store = Store.open(path)
    for _ in range(runs):
        run_id = store.create_run(plan_key="k", command="dlarena run", environment=ENV)
        for process in range(3):
            store.save(run_id, outcome(), process=process)
    store.close()
    return path


def old_store(path: Path) -> Path:
    """A store of schema 1, with one run, as the first dlarena wrote it."""
    from dlarena.store.sqlite import _MIGRATIONS

    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1])
    db.execute("INSERT INTO meta VALUES ('application', 'dlarena'), ('schema_version', '1')")
    db.execute("INSERT INTO runs VALUES (1, 'k', 't', 'c', '{}')")
    db.commit()
    db.close()
    return path


def test_corrupt_pages_are_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = stored(tmp_path / "r.db")
    data = bytearray(path.read_bytes())
    data[2 * 4096:] = b"\x55" * (len(data) - 2 * 4096)  # header, schema and meta survive
    path.write_bytes(bytes(data))
    before = snapshot(tmp_path)
    for argv in (["report"], ["compare", "1", "2"], RUN):
        err = usage_error(capsys, *argv, "--db", str(path))
        assert str(path) in err and ("malformed" in err or "damaged" in err), err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("damage", [
    "UPDATE meta SET value = 'two' WHERE key = 'schema_version'",
    "DELETE FROM meta WHERE key = 'schema_version'",
    "DROP TABLE samples",
])
def test_a_damaged_schema_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    path = stored(tmp_path / "r.db")
    db = sqlite3.connect(path)
    db.execute(damage)
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    for argv in (["report"], RUN):
        err = usage_error(capsys, *argv, "--db", str(path))
        assert str(path) in err and ("schema version" in err or "samples" in err), err
    assert snapshot(tmp_path) == before


def test_a_file_name_too_long_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("x" * 300 + ".db")
    for argv in (["report"], ["compare", "1", "2"], RUN):
        assert "File name too long" in usage_error(capsys, *argv, "--db", str(path))


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_another_programs_sqlite_file_stays_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], journal: str
) -> None:
    path = tmp_path / "invoices.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA journal_mode = {journal}")
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    for argv in (RUN, ["report"]):
        assert "another program" in usage_error(capsys, *argv, "--db", str(path))
    assert snapshot(tmp_path) == before


def test_reading_an_older_schema_migrates_a_copy_in_memory_not_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = old_store(tmp_path / "old.db")
    before = snapshot(tmp_path)
    store = Store.read(path)
    assert [run.id for run in store.runs()] == [1]
    assert store.parity(1) == []  # the table migration 2 adds, in the copy
    store.close()
    assert main(["compare", "1", "1", "--db", str(path)]) == 0
    assert snapshot(tmp_path) == before
    Store.open(path).close()  # a run migrates the file itself
    meta = dict(sqlite3.connect(path).execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "an empty file"),
    (None, "holds no dlarena results"),  # an SQLite file without tables
])
def test_reading_an_empty_file_gives_it_no_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, needle: str
) -> None:
    path = tmp_path / "r.db"
    if content is None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("PRAGMA user_version = 7")
    else:
        path.write_bytes(content)
    before = snapshot(tmp_path)
    for argv in (["report"], ["compare", "1", "2"]):
        assert needle in usage_error(capsys, *argv, "--db", str(path))
    assert snapshot(tmp_path) == before


def test_reading_leaves_no_file_behind(tmp_path: Path) -> None:
    path = stored(tmp_path / "r.db")
    (tmp_path / "r.db-lock").unlink(missing_ok=True)
    before = snapshot(tmp_path)
    store = Store.read(path)
    assert len(store.runs()) == 2
    store.close()
    assert main(["report", "--db", str(path), "--format", "json"]) == 0
    assert snapshot(tmp_path) == before  # no -wal, -shm or lock file appeared


def test_a_reader_sees_what_a_live_writer_committed(tmp_path: Path) -> None:
    path = stored(tmp_path / "r.db", runs=1)
    writer = Store.open(path)
    writer.create_run(plan_key="k2", command="c", environment=ENV)  # in the -wal only
    reader = Store.read(path)
    assert len(reader.runs()) == 2
    reader.close()
    writer.close()


# Creates the file named by its argument: "refused" if the folder does not let it.
WRITE_PROBE = """
import sys
try:
    open(sys.argv[1], "x").close()
except PermissionError:
    print("refused")
else:
    print("written")
"""


@pytest.fixture
def store_folder(tmp_path: Path) -> Iterator[Path]:
    """The folder a test makes read-only, made writable again for pytest to remove."""
    folder = tmp_path / "store"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)


def read_only_report(folder: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """`dlarena report` with the folder read-only to it. Root writes anywhere through its
    capabilities, so as root the report runs without any (setpriv, an empty bounding set):
    still root, so it reads a checkout inside a private (0700) folder, but held to the
    folder's mode bits. A probe run the same way must first be refused a file there."""
    folder.chmod(0o555)
    without_capabilities: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        without_capabilities = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
    probe = subprocess.run(
        [*without_capabilities, sys.executable, "-c", WRITE_PROBE, str(folder / "probe")],
        capture_output=True, text=True, timeout=60, check=False)
    if probe.stdout.strip() not in ("refused", "written"):
        pytest.skip(f"cannot run a process without root's capabilities here: {probe.stderr}")
    assert probe.stdout.strip() == "refused", "the folder is writable: the test would prove nothing"
    command = [*without_capabilities, sys.executable, "-m", "dlarena.cli", "report", "--db",
               str(path), "--format", "json"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "MPLCONFIGDIR": str(folder)}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          check=False)


def test_a_store_in_a_read_only_folder_can_be_read(store_folder: Path) -> None:
    path = stored(store_folder / "r.db")
    path.chmod(0o644)
    before = snapshot(store_folder)
    result = read_only_report(store_folder, path)
    assert result.returncode == 0, result.stderr
    assert '"cells"' in result.stdout
    assert snapshot(store_folder) == before


def test_a_crashed_writers_log_in_a_read_only_folder_is_read_from_a_copy(
    store_folder: Path, tmp_path: Path
) -> None:
    """A writer died with committed cells still in its -wal, and the -shm index is gone."""
    live = stored(tmp_path / "r.db", runs=1)
    writer = Store.open(live)
    writer._db.execute("PRAGMA wal_autocheckpoint = 0")
    writer.create_run(plan_key="k2", command="c", environment=ENV)
    for name in ("r.db", "r.db-wal"):  # copied as a crash would leave them
        shutil.copy(tmp_path / name, store_folder / name)
        (store_folder / name).chmod(0o644)
    writer.close()
    before = snapshot(store_folder)
    result = read_only_report(store_folder, store_folder / "r.db")
    assert result.returncode == 0, result.stderr
    assert '"id": 2' in result.stdout  # the latest run, which only the -wal holds
    assert snapshot(store_folder) == before


def test_one_writer_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlarena.store import files

    monkeypatch.setattr(files, "WRITER_WAIT_SECONDS", 0.2)
    first = Store.open(tmp_path / "r.db")
    with pytest.raises(UsageError, match=rf"in use by another `dlarena run` \(pid {os.getpid()}\)"):
        Store.open(tmp_path / "r.db")
    reader = Store.read(tmp_path / "r.db")  # readers are never refused
    reader.close()
    first.close()
    Store.open(tmp_path / "r.db").close()


def test_results_frame_reads_without_writing_and_names_a_foreign_file(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    from dlarena.api import results_frame

    path = old_store(tmp_path / "old.db")
    before = snapshot(tmp_path)
    assert len(results_frame(path)) == 0  # run 1 has no cells yet
    assert snapshot(tmp_path) == before
    foreign = tmp_path / "foreign.db"
    with contextlib.closing(sqlite3.connect(foreign)) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(UsageError, match=f"{foreign} is an SQLite file of another program"):
        results_frame(foreign)


@pytest.mark.parametrize("error", [OSError(13, "Permission denied"),
                                   sqlite3.OperationalError("disk I/O error")])
def test_a_failure_to_open_for_reading_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """Reading a private copy can fail (the log unreadable), and so can SQLite's open."""
    from dlarena.store import files

    path = stored(tmp_path / "r.db")

    def fail(_path: Path) -> None:
        raise error

    monkeypatch.setattr(files, "connect_for_reading", fail)
    for open_store in (Store.read, Store.open):
        with pytest.raises(UsageError, match=f"cannot read --db {path}: .*{error.args[-1]}"):
            open_store(path)
