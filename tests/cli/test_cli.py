"""The command line as a user meets it: exit codes, one-line errors, no framework imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dlarena import registry
from dlarena.cli import main


def dlarena(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dlarena.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, check=False)


def assert_usage_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert needle in result.stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["run", "--frameworks", "pytorch"],
     f"unknown framework 'pytorch'; valid: {', '.join(registry.names())}"),
    (["run", "--workloads", "resnet"],
     f"unknown workload 'resnet'; valid: {', '.join(registry.workloads())}"),
    (["run", "--scenarios", "speed"], "unknown scenario 'speed'; valid: train, infer"),
    (["run", "--suite", "nightly"], "unknown suite 'nightly'"),
    (["run", "--size", "huge"], "unknown size 'huge'; valid: smoke, cpu, full"),
    (["run", "--batch-size", "0"], "expected a positive integer, got 0"),
    (["run", "--batch-size", "-4"], "expected a positive integer, got -4"),
    (["run", "--batch-size", "many"], "expected a positive integer, got 'many'"),
    (["run", "--python", "torch"], "expected FRAMEWORK=PATH"),
    (["run", "--reference", "pytorch"],
     f"unknown --reference 'pytorch'; valid: {', '.join(registry.names())}"),
    (["report", "--reference", "pytorch"], "unknown --reference 'pytorch'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required: command"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    db = tmp_path / "results" / "r.db"
    result = dlarena(*args, "--db", str(db)) if args[:1] == ["run"] else dlarena(*args)
    assert_usage_error(result, needle)
    assert list(tmp_path.iterdir()) == []  # no store, not even its folder


def test_a_db_that_is_not_sqlite_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "thesis.tex"
    path.write_text("\\chapter{Results}\n" * 50)
    assert_usage_error(dlarena("run", "--frameworks", "fake", "--db", str(path)),
                       "is not a usable SQLite database")
    assert path.read_text() == "\\chapter{Results}\n" * 50


def test_an_unwritable_db_path_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_usage_error(dlarena("run", "--frameworks", "fake", "--db", str(blocker / "r.db")),
                       "cannot create the folder for --db")


def test_a_framework_that_is_not_installed_names_the_install_command(tmp_path: Path) -> None:
    bare = tmp_path / "bare-python"
    bare.write_text("#!/bin/sh\nexit 0\n")
    bare.chmod(0o755)
    result = dlarena("run", "--frameworks", "tensorflow", "--python", f"tensorflow={bare}",
                     "--db", str(tmp_path / "r.db"))
    assert_usage_error(result, f"tensorflow is not installed; install it with: {bare} -m pip "
                               "install tensorflow-cpu")


def test_report_without_results_is_a_usage_error(tmp_path: Path) -> None:
    assert_usage_error(dlarena("report", "--db", str(tmp_path / "none.db")), "no results database")
    assert not (tmp_path / "none.db").exists()


def test_help_and_list_import_no_framework() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from dlarena.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['list']); main(['list', '--json'])\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = {'torch', 'tensorflow', 'jax', 'keras'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_list_json_describes_frameworks_workloads_scenarios_suites(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    frameworks = {fw["name"]: fw for fw in data["frameworks"]}
    assert set(frameworks) >= {"torch", "tensorflow", "fake"}
    assert frameworks["fake"]["installed"] and frameworks["fake"]["test_double"]
    for fw in frameworks.values():
        assert fw["installed"] == (fw["version"] is not None)
        assert fw["installed"] or fw["not_runnable"]
    workloads = {wl["name"]: wl for wl in data["workloads"]}
    assert set(workloads["mlp"]["frameworks"]) >= {"torch", "tensorflow"}
    assert workloads["mlp"]["trainable_parameters"]["cpu"] == 784 * 128 + 128 + 128 * 64 + 64 + 650
    assert {s["name"] for s in data["scenarios"]} == {"train", "infer", "latency", "startup", "convergence", "dataload", "train-from-files", "train-ddp", "devex", "save-weights", "save-model", "save-program", "export-onnx", "export-openvino", "export-aotinductor", "export-litert", "serve", "serve-torchserve"}
    assert {s["name"] for s in data["suites"]} >= {"default", "smoke"}


def test_run_then_report_in_every_format(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    ran = dlarena("run", "--suite", "smoke", "--frameworks", "fake", "--min-window", "0.01",
                  "--db", db)
    assert ran.returncode == 0, ran.stderr
    assert "4 worker processes to measure" in ran.stdout
    assert "mlp" in ran.stdout and "samples/s" in ran.stdout
    again = dlarena("run", "--suite", "smoke", "--frameworks", "fake", "--min-window", "0.01",
                    "--db", db)
    assert "resuming run 1: 4 of 4 worker processes already stored" in again.stdout
    document = json.loads(dlarena("report", "--db", db, "--format", "json").stdout)
    assert len(document["cells"]) == 4
    cell = document["cells"][0]
    for field in ("workload", "framework", "mode", "scenario", "size", "batch_size", "status",
                  "error", "metrics"):
        assert field in cell
    assert cell["metrics"]["train_throughput"]["unit"] == "samples/s"
    assert cell["metrics"]["peak_rss_bytes"]["unit"] == "bytes"
    out = tmp_path / "out" / "report.md"
    written = dlarena("report", "--db", db, "--format", "markdown", "--out", str(out))
    assert written.returncode == 0 and out.read_text().startswith("# dlarena comparison")
    assert "fake/eager" in dlarena("report", "--db", db).stdout


def test_check_names_the_modes_checked_and_the_tolerances() -> None:
    result = dlarena("check", "--frameworks", "fake", "--modes", "all", "--workloads", "mlp",
                     "--threads", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "mlp (smoke): fake/eager vs fake/compiled, checked in float64: same model" in text
    assert "precision of the timed path, fake/eager fp32" in text
    assert ("tolerances relative to max(1, max |reference|), from float64 agreement: forward "
            "(inference mode) 1e-13, forward (training mode) 1e-12") in text


def test_two_identical_runs_started_together_make_one_run(tmp_path: Path) -> None:
    """The second waits for the store's writer (up to WRITER_WAIT_SECONDS), then resumes the
    run the first created; on a machine slow enough that the first holds the store longer,
    it is refused with the reason instead. Either way: one run, each cell stored once."""
    import sqlite3

    db = str(tmp_path / "r.db")
    args = [sys.executable, "-m", "dlarena.cli", "run", "--suite", "smoke", "--frameworks",
            "fake", "--workloads", "mlp", "--min-window", "0.01", "--windows", "2", "--db", db]
    both = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    codes = []
    for process in both:
        _, err = process.communicate(timeout=600)
        codes.append(process.returncode)
        assert process.returncode == 0 or (
            process.returncode == 2 and "is in use by another `dlarena run`" in err), err
    assert 0 in codes
    store = sqlite3.connect(db)
    assert store.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    assert store.execute("SELECT COUNT(*) FROM cells").fetchone() == (2,)
    store.close()
    again = dlarena(*args[3:])
    assert "resuming run 1: 2 of 2 worker processes already stored" in again.stdout


RUN_FAKE = ["run", "--suite", "smoke", "--frameworks", "fake", "--workloads", "mlp",
            "--scenarios", "train", "--min-window", "0.01", "--no-parity"]


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one small fake run (made once; tests copy it)."""
    db = tmp_path_factory.mktemp("store") / "r.db"
    assert main([*RUN_FAKE, "--windows", "1", "--db", str(db)]) == 0
    return db


@pytest.mark.parametrize(("args", "needle"), [
    (["--batch-size", "999999999999999999999"],
     "batch size must be an integer from 1 to 2147483647, got 999999999999999999999"),
    (["--batch-size", "9" * 40], "batch size must be an integer from 1 to 2147483647, got a 40-digit number"),
    (["--batch-sizes", "8,8"], "'8' given twice"),
    (["--frameworks", "fake,fake"], "'fake' given twice"),
    (["--batch-size", "8", "--batch-sizes", "8,16"], "not allowed with argument"),
    (["--processes", "2", "--seeds", "3"], "not allowed with argument"),
    (["--python", "nope=/nonexistent"], f"unknown framework 'nope' in --python; valid: {', '.join(registry.names())}"),
    (["--python", "fake=/a", "--python", "fake=/b"], "--python names fake twice"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 4294966296, got -1"),
    (["--seed", "many"], "expected an integer, got 'many'"),
    (["--min-window", "inf"], "expected a positive finite number, got inf"),
    (["--min-window", "nan"], "expected a positive finite number, got nan"),
    (["--timeout", "1e400"], "expected a positive finite number, got 1e400"),
    (["--min-window", "7200"], "--min-window must be more than 0 and at most 3600 seconds"),
    (["--timeout", "1e9"], "--timeout must be more than 0 and at most 604800 seconds"),
    (["--threads", "1" * 30], "--threads must be an integer from 1 to 1024, got a 30-digit number"),
    (["--interop-threads", "5000"], "--interop-threads must be an integer from 1 to 1024"),
    (["--windows", "99999"], "--windows must be an integer from 1 to 10000"),
    (["--processes", "100000"], "--processes must be an integer from 1 to 1000"),
    (["--size", ""], "unknown size ''; valid: smoke, cpu, full"),
    (["--dataset", "mnist"], "--dataset applies to the convergence scenario"),
    (["--epochs", "3"], "--epochs applies to the convergence scenario"),
    (["--reference", ""], "unknown --reference ''"),
    (["--device", "gpu\n\x1b[31mred"], r"unknown device 'gpu\n\x1b[31mred'"),
])
def test_hostile_run_input_is_one_line_and_touches_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], one_run: Path, args: list[str],
    needle: str,
) -> None:
    db = tmp_path / "r.db"
    db.write_bytes(one_run.read_bytes())
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()}
    capsys.readouterr()
    assert main([*RUN_FAKE, *args, "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir() if path.is_file()} == before


@pytest.mark.parametrize(("args", "needle"), [
    (["report", "--out", ""], "--out needs a file name"),
    (["report", "--out", "{db}"], "is the results database itself"),
    (["report", "--out", "{db}-wal"], "is the results database itself"),
    (["check", "--frameworks", "fake", "--size", ""], "unknown size ''"),
    (["check", "--python", "nope=/x"], "unknown framework 'nope' in --python"),
    (["list", "--python", "nope=/x"], "unknown framework 'nope' in --python"),
    (["report", "--db", "new\nline.db"], r"no results database at new\nline.db"),
])
def test_hostile_input_to_other_commands_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    db = tmp_path / "r.db"
    db.write_bytes(b"")
    argv = [arg.replace("{db}", str(db)) for arg in args]
    if argv[0] == "report" and "--db" not in argv:
        argv += ["--db", str(db)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert [path.name for path in tmp_path.iterdir()] == ["r.db"] and db.read_bytes() == b""


def test_calibrate_measures_a_framework_against_its_twin_and_reports_show_the_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The A/A control from the command line: fake against fake-twin, one adaptive run; the
    count it ends with is the one a later report of another run on this machine shows."""
    from dlarena.report import markdown
    from dlarena.report.build import build_report
    from dlarena.store import Store

    db = tmp_path / "r.db"
    assert main(["calibrate", "--framework", "fake", "--workloads", "mlp", "--size", "smoke",
                 "--runs", "1", "--max-rounds", "3", "--no-fork-servers", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    [line] = [text for text in out.splitlines() if text.startswith("A/A control")]
    assert "fake against its identical twin, fresh workers" in line and "false verdict" in line
    assert main(["run", "--frameworks", "fake", "--workloads", "cnn", "--size", "smoke",
                 "--processes", "1", "--db", str(db)]) == 0
    store = Store.read(db)
    try:
        report = build_report(store)
        assert report.control is not None and report.control.pairs == 1
        assert report.control.text == line
        assert line in markdown.render(report)
    finally:
        store.close()
    assert main(["calibrate", "--framework", "fake-twin", "--db", str(db)]) == 2
    assert "unknown framework 'fake-twin'" in capsys.readouterr().err
    # The default control is on forked workers (what `run` uses by default), and says so.
    assert main(["calibrate", "--framework", "fake", "--workloads", "mlp", "--size", "smoke",
                 "--runs", "1", "--max-rounds", "2", "--db", str(db)]) == 0
    [line] = [text for text in capsys.readouterr().out.splitlines()
              if text.startswith("A/A control")]
    assert "fake against its identical twin, forked workers, run " in line, line
