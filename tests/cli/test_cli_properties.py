"""The command line under generated input (Hypothesis): whatever the arguments and whatever
lies at --db, `dlarena` ends with exit 0, 1 or 2, never a traceback; exit 2 is one line; and
no command changes an existing store except a `run` that was accepted.

Commands run in this process (`dlarena.cli.main`). An accepted `run` measures with the fake
framework at tiny settings: every generated run starts from such a command and can only
replace its values, and the values that are valid keep a plan at two cells at most. No
generated command can reach a real framework: runs and checks always name the fake (a value
that replaces it is invalid), and `env`, which measures every installed framework, is only
generated with an argument that makes it a usage error. Generated text holds no NUL and no
lone surrogate, which no command line can carry.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dlarena.cli import main
from dlarena.engine import environment
from dlarena.store import Store
from tests.store.test_store import ENV, outcome

SETTINGS = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
               max_size=12)
NUMBERS = ["0", "-1", "1.5", "inf", "-inf", "nan", "1e400", "9" * 30, "0x10", " ", "1_0"]

# Each flag of `run`: values that keep a plan tiny, and values it must refuse.
RUN_FLAGS: dict[str, tuple[list[str], list[str]]] = {
    "--suite": (["smoke", "graphs", "default"], ["", "nightly", "accuracy "]),
    "--frameworks": (["fake"], ["", "fake,fake", "pytorch", ",", "fake,nope"]),
    "--workloads": (["mlp", "cnn"], ["", "resnet", "mlp,mlp", ","]),
    "--scenarios": (["train", "infer", "startup"], ["", "speed", "train,train"]),
    "--size": (["smoke"], ["", "huge", " smoke"]),
    "--batch-size": (["1", "8"], [*NUMBERS, "999999999999999999999"]),
    "--batch-sizes": (["1,8", "8"], ["8,8", "", ",", "0,1", "1,x"]),
    "--modes": (["default", "eager", "compiled"], ["", "jit", "eager,eager"]),
    "--device": (["cpu", "gpu"], ["", "tpu", "gpu\n"]),
    "--threads": (["1", "2"], [*NUMBERS, "5000"]),
    "--interop-threads": (["1"], [*NUMBERS, "5000"]),
    "--processes": (["1"], [*NUMBERS, "100000"]),
    "--seeds": (["1"], [*NUMBERS, "1001"]),
    "--windows": (["1", "2"], [*NUMBERS, "99999"]),
    "--epochs": ([], NUMBERS),  # no generated plan converges: always refused
    "--dataset": ([], ["mnist", ""]),
    "--min-window": (["0.001", "0.005"], [*NUMBERS, "7200"]),
    "--timeout": (["60"], [*NUMBERS, "1e9"]),
    "--seed": (["0", "3"], [*NUMBERS, "4294967295"]),
    "--python": ([f"fake={sys.executable}"], ["nope=/x", "fake", "=x", "fake=", "fake=/nope"]),
    "--reference": (["fake", "torch"], ["", "pytorch"]),
}
TINY_RUN = ["run", "--frameworks", "fake", "--workloads", "mlp", "--scenarios", "train",
            "--min-window", "0.001", "--windows", "1", "--no-parity"]

# What lies at --db: a store, a store of an older schema, and the kinds of file to refuse.
STATES = ["store", "store", "store", "old", "empty", "missing", "text", "foreign", "corrupt",
          "dropped", "version", "folder", "long"]
READABLE = {"store", "old"}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One file per state, made once; every example copies the one it draws."""
    folder = tmp_path_factory.mktemp("templates")
    store = Store.open(folder / "store")
    for _ in range(2):  # runs 1 and 2, for compare
        run_id = store.create_run(plan_key="k", command="dlarena run", environment=ENV)
        for process in range(3):
            store.save(run_id, outcome(), process=process)
    store.close()
    data = (folder / "store").read_bytes()
    (folder / "corrupt").write_bytes(data[:2 * 4096] + b"\x55" * (len(data) - 2 * 4096))
    for name, damage in (("dropped", "DROP TABLE samples"),
                         ("version", "UPDATE meta SET value = 'two' WHERE key = 'schema_version'")):
        (folder / name).write_bytes(data)
        db = sqlite3.connect(folder / name)
        db.execute(damage)
        db.commit()
        db.close()
    db = sqlite3.connect(folder / "old")
    from dlarena.store.sqlite import _MIGRATIONS

    db.executescript(_MIGRATIONS[1])
    db.execute("INSERT INTO meta VALUES ('application', 'dlarena'), ('schema_version', '1')")
    db.execute("INSERT INTO runs VALUES (1, 'k', 't', 'c', '{}')")
    db.commit()
    db.close()
    (folder / "empty").write_bytes(b"")
    (folder / "text").write_text("\\chapter{Results}\n" * 50)
    db = sqlite3.connect(folder / "foreign")
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.MonkeyPatch.context() as patch:
        # A new run measures the machine's matrix-product ceiling in two processes; the
        # figure is not what is tested here, and it would cost a second per accepted run.
        patch.setattr(environment, "matmul_peaks", lambda *args, **kwargs: {})
        yield folder


@contextlib.contextmanager
def state(templates: Path, name: str) -> Iterator[tuple[Path, Path]]:
    """A fresh folder holding the drawn state at its `--db` path, and a folder for --out."""
    root = Path(tempfile.mkdtemp(prefix="dlarena-prop-"))
    try:
        folder = root / "store"
        folder.mkdir()
        db = folder / ("x" * 300 if name == "long" else "r.db")
        if name == "folder":
            db.mkdir()
        elif name in ("store", "old", "empty", "text", "foreign", "corrupt", "dropped",
                      "version"):
            db.write_bytes((templates / name).read_bytes())
        yield db, root / "out"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
            for path in sorted(folder.rglob("*"))}


def invoke(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # --help
            code = stop.code if isinstance(stop.code, int) else 2
    return code, err.getvalue()


def check(argv: list[str], db: Path, *, may_change: bool) -> int:
    """Runs the command and checks the property; returns the exit code."""
    folder = db.parent
    before = snapshot(folder)
    code, err = invoke(argv)
    known = ("run", "report", "compare", "list", "check", "env")
    event(f"{argv[0] if argv and argv[0] in known else 'no command'}: exit {code}")
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("dlarena: error: "), \
            (argv, err)
    if may_change and code in (0, 1):
        if db.is_file():
            with contextlib.closing(sqlite3.connect(db)) as written:
                assert written.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    else:
        assert snapshot(folder) == before, (argv, code, err)
    return code


def value(valid: list[str], hostile: list[str]) -> st.SearchStrategy[str]:
    choices = [st.sampled_from(hostile), TEXT]
    return st.one_of(st.sampled_from(valid), *choices) if valid else st.one_of(*choices)


@st.composite
def run_arguments(draw: st.DrawFn) -> list[str]:
    flags = draw(st.lists(st.sampled_from(sorted(RUN_FLAGS)), max_size=3, unique=True))
    argv = []
    for flag in flags:
        argv += [flag, draw(value(*RUN_FLAGS[flag]))]
    if draw(st.booleans()):
        argv.append("--fresh")
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(st.sampled_from(["--nope", "extra", "-x", "--help", "--db"])))
    return argv


@pytest.mark.slow  # 120 generated commands, each a run
@settings(SETTINGS, max_examples=120)
@given(name=st.sampled_from(STATES), arguments=run_arguments())
def test_run_ends_in_0_1_or_2_and_changes_a_store_only_when_accepted(
    templates: Path, name: str, arguments: list[str]
) -> None:
    with state(templates, name) as (db, _):
        check([*TINY_RUN, "--db", str(db), *arguments], db, may_change=True)


@st.composite
def read_arguments(draw: st.DrawFn, db: str, out: str) -> list[str]:
    runs = st.one_of(st.sampled_from(["1", "2", "3"]), st.sampled_from(NUMBERS), TEXT)
    if draw(st.booleans()):
        argv = ["compare", draw(runs), draw(runs), "--db", db]
        if draw(st.booleans()):
            argv += ["--format", draw(st.sampled_from(["terminal", "json", "html", ""]))]
        return argv
    argv = ["report", "--db", db]
    if draw(st.booleans()):
        argv += ["--run", draw(runs)]
    if draw(st.booleans()):
        # html renders plots: slow, and tested in tests/report; here it is refused or skipped
        argv += ["--format", draw(st.sampled_from(["terminal", "markdown", "json", "csv", "",
                                                   "pdf"]))]
    if draw(st.booleans()):
        argv += ["--out", draw(st.sampled_from(
            [f"{out}/report.md", "", " ", db, f"{db}-wal", f"{db}-lock", out,
             f"{out}/{'y' * 300}", f"{db}/report.md"]))]
    if draw(st.booleans()):
        argv += ["--reference", draw(st.sampled_from(["fake", "torch", "", "pytorch"]))]
    return argv


@settings(SETTINGS, max_examples=150)
@given(name=st.sampled_from(STATES), data=st.data())
def test_reading_never_changes_the_store(templates: Path, name: str, data: st.DataObject
                                         ) -> None:
    with state(templates, name) as (db, out):
        argv = data.draw(read_arguments(str(db), str(out)))
        code = check(argv, db, may_change=False)
        if name not in READABLE:
            assert code == 2, argv


@st.composite
def other_arguments(draw: st.DrawFn) -> list[str]:
    command = draw(st.sampled_from(["list", "check", "env", "junk"]))
    python = st.sampled_from([f"fake={sys.executable}", "nope=/x", "fake", "=x"])
    if command == "list":
        argv = ["list", *draw(st.sampled_from([[], ["--json"]]))]
        return argv + (["--python", draw(python)] if draw(st.booleans()) else [])
    if command == "check":
        argv = ["check", "--frameworks", "fake"]
        for flag, values in (("--workloads", ["mlp", "", "resnet"]),
                             ("--size", ["smoke", "", "huge"]),
                             ("--device", ["cpu", "tpu"]),
                             ("--threads", ["1", *NUMBERS])):
            if draw(st.booleans()):
                argv += [flag, draw(st.one_of(st.sampled_from(values), TEXT))]
        return argv + (["--python", draw(python)] if draw(st.booleans()) else [])
    if command == "env":
        return ["env", draw(st.sampled_from(["--json", "x", "--db"]))]
    return draw(st.lists(st.one_of(st.sampled_from(["run", "report", "--db", "-h", ""]), TEXT),
                         max_size=3).filter(lambda argv: not argv or argv[0] not in
                                            ("run", "check", "env", "list", "report",
                                             "compare")))


@settings(SETTINGS, max_examples=60)
@given(name=st.sampled_from(STATES), argv=other_arguments())
def test_other_commands_end_in_0_1_or_2(templates: Path, name: str, argv: list[str]) -> None:
    with state(templates, name) as (db, _):
        check(argv, db, may_change=False)
