"""Adding a framework is one new folder: no existing file changes, and the framework then
appears in `list`, in every suite (its INFO puts it in the default set), in `check` and in
the paper table. The new framework reuses the fake's NumPy implementation, so it runs
anywhere in milliseconds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dlarena

TWIN_INFO = '''"""A second NumPy framework, added as one folder."""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="twin",
    description="the fake's implementation under another name",
    distributions=("numpy",),
    pip_requirement="numpy",
    modes=("eager",),
    eager_mode="eager",
    in_default_set=True,
    generic_implementation="dlarena.frameworks.fake.model:FakeImplementation",
)
'''
TWIN_RUNTIME = "from dlarena.frameworks.fake.runtime import FakeRuntime as RUNTIME\n"


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with frameworks/twin/ added; every existing file unchanged."""
    root = tmp_path_factory.mktemp("src")
    package = root / "dlarena"
    source = Path(dlarena.__file__).parent
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__"))
    before = {p: p.read_bytes() for p in package.rglob("*.py")}
    (package / "frameworks" / "twin").mkdir()
    (package / "frameworks" / "twin" / "__init__.py").write_text(TWIN_INFO)
    (package / "frameworks" / "twin" / "runtime.py").write_text(TWIN_RUNTIME)
    assert all(path.read_bytes() == text for path, text in before.items())
    return root


def dlarena_cli(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "DLARENA_PEAK_SECONDS": "0.05"}
    env.pop("DLARENA_FAKE_FAULT", None)
    return subprocess.run([sys.executable, "-m", "dlarena.cli", *args], capture_output=True,
                          text=True, timeout=600, env=env, check=False, cwd=tree)


def test_the_new_framework_is_listed_and_in_every_suite(tree: Path) -> None:
    listed = dlarena_cli(tree, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    twin = next(fw for fw in data["frameworks"] if fw["name"] == "twin")
    assert twin["installed"] and twin["in_default_set"]
    assert all("twin" in workload["frameworks"] for workload in data["workloads"])
    # Every suite whose rule admits it: all but the front ends' (Keras on its backends).
    assert all("twin" in suite["frameworks"] for suite in data["suites"]
               if suite["name"] != "front-ends")
    front_ends = next(suite for suite in data["suites"] if suite["name"] == "front-ends")
    assert "twin" not in front_ends["frameworks"]


def test_the_new_framework_is_checked_and_in_the_paper_table(tree: Path) -> None:
    checked = dlarena_cli(tree, "check", "--frameworks", "fake,twin", "--workloads", "mlp",
                          "--threads", "1")
    assert "mlp (smoke): fake/eager vs twin/eager, checked in float64: same model" in \
        checked.stdout, checked.stdout + checked.stderr
    db = str(tree / "paper.db")
    ran = dlarena_cli(tree, "run", "--suite", "paper", "--size", "smoke", "--frameworks",
                      "fake,twin", "--windows", "2", "--min-window", "0.01", "--threads", "1",
                      "--no-parity", "--db", db)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    report = dlarena_cli(tree, "report", "--db", db, "--format", "markdown",
                         "--reference", "twin")
    assert report.returncode == 0, report.stderr
    assert "| twin (here) |" in report.stdout and "| fake (here) |" in report.stdout
    assert "| fake / twin (here, 95% CI) |" in report.stdout
