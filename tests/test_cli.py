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
    (["run", "--frameworks", "pytorch"], "unknown framework 'pytorch'; valid: fake, tensorflow, torch"),
    (["run", "--workloads", "resnet"],
     f"unknown workload 'resnet'; valid: {', '.join(registry.workloads())}"),
    (["run", "--scenarios", "speed"], "unknown scenario 'speed'; valid: train, infer"),
    (["run", "--suite", "nightly"], "unknown suite 'nightly'"),
    (["run", "--size", "huge"], "unknown size 'huge'; valid: smoke, cpu, full"),
    (["run", "--batch-size", "0"], "expected a positive integer, got 0"),
    (["run", "--batch-size", "-4"], "expected a positive integer, got -4"),
    (["run", "--batch-size", "many"], "expected a positive integer, got 'many'"),
    (["run", "--python", "torch"], "expected FRAMEWORK=PATH"),
    (["run", "--reference", "pytorch"], "unknown --reference 'pytorch'; valid: fake, tensorflow, torch"),
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
        assert fw["installed"] or "pip install" in fw["install"]
    workloads = {wl["name"]: wl for wl in data["workloads"]}
    assert set(workloads["mlp"]["frameworks"]) >= {"torch", "tensorflow"}
    assert workloads["mlp"]["trainable_parameters"]["cpu"] == 784 * 128 + 128 + 128 * 64 + 64 + 650
    assert {s["name"] for s in data["scenarios"]} == {"train", "infer", "latency", "startup", "convergence"}
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


def test_two_identical_runs_started_together_make_one_run(tmp_path: Path) -> None:
    """The second waits for the store's writer, then resumes the run the first created."""
    import sqlite3

    db = str(tmp_path / "r.db")
    args = [sys.executable, "-m", "dlarena.cli", "run", "--suite", "smoke", "--frameworks",
            "fake", "--workloads", "mlp", "--min-window", "0.01", "--windows", "2", "--db", db]
    both = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    for process in both:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    store = sqlite3.connect(db)
    assert store.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)
    assert store.execute("SELECT COUNT(*) FROM cells").fetchone() == (2,)
    store.close()
    again = dlarena(*args[3:])
    assert "resuming run 1: 2 of 2 worker processes already stored" in again.stdout
