"""docs/extending.md, followed to the letter: its worked example adds a `numpy` framework.

The package is copied, each ```python file=PATH block of the guide is written at PATH in the
copy (adding a framework must not touch an existing file), and the copy's own `dlarena`
command must list the framework and prove, in worker processes that import the copy too
(the executor puts the package's root on their path), that its mlp is PyTorch's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.frameworks

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "extending.md"
BLOCK = re.compile(r"^```python file=(?P<path>\S+)\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)
EXPECTED = {"frameworks/numpy/__init__.py", "frameworks/numpy/runtime.py",
            "workloads/mlp/numpy.py"}
# Float64 rounding, not the float32 margins the check's tolerances allow: a formula that
# differs from PyTorch's (Adam's epsilon placed as Keras places it gives 1.9e-5) fails here.
FLOAT64_AGREEMENT = 1e-12


def _blocks() -> list[tuple[str, str]]:
    return [(match["path"], match["code"]) for match in BLOCK.finditer(GUIDE.read_text())]


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with the guide's files added; its parent goes on PYTHONPATH."""
    root = tmp_path_factory.mktemp("extended")
    package = root / "dlarena"
    shutil.copytree(ROOT / "src" / "dlarena", package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    blocks = _blocks()
    assert {path for path, _ in blocks} == EXPECTED, "the guide's files changed"
    assert len(blocks) == len(EXPECTED), "a file is given twice"
    for path, code in blocks:
        target = package / path
        assert not target.exists(), f"{path} exists: adding a framework must touch no file"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    return root


def _dlarena(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-m", "dlarena.cli", *args], cwd=root,
                          env=environment, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_copy_lists_numpy_with_mlp_implemented(extended: Path) -> None:
    done = _dlarena(extended, "list", "--json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    numpy = next(fw for fw in listing["frameworks"] if fw["name"] == "numpy")
    assert numpy["installed"] and numpy["modes"] == ["eager"] and not numpy["test_double"]
    mlp = next(wl for wl in listing["workloads"] if wl["name"] == "mlp")
    assert "numpy" in mlp["frameworks"]


def test_the_numpy_mlp_is_pytorchs_mlp_to_float64_rounding(extended: Path) -> None:
    done = _dlarena(extended, "check", "--frameworks", "torch,numpy", "--workloads", "mlp",
                    "--threads", "1")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "torch/eager vs numpy/eager, checked in float64: same model" in output, output
    errors = [float(value) for value in re.findall(r"worst relative error (\S+)", output)]
    # forward (inference, training), gradients, Adam and SGD losses, weights after SGD
    assert len(errors) == 6, output
    assert max(errors) < FLOAT64_AGREEMENT, output
