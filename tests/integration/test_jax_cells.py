"""JAX end to end: jit and eager cells of the graphs suite report compilations and break-even."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import json_report, require

pytestmark = pytest.mark.frameworks


def test_jax_graphs_suite_reports_compilations_and_break_even(tmp_path: Path) -> None:
    """`jit` compiles the training step once; `eager` (jax.disable_jit) compiles primitive by
    primitive; both show in the start-up table, and the break-even of jit is reported."""
    require("jax")
    db = str(tmp_path / "jax.db")
    ran = subprocess.run([sys.executable, "-m", "dlarena.cli", "run", "--suite", "graphs",
                          "--frameworks", "jax", "--workloads", "mlp", "--size", "smoke",
                          "--scenarios", "startup,train", "--windows", "3", "--min-window",
                          "0.05", "--threads", "1", "--db", db],
                         capture_output=True, text=True, timeout=900, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    document = json_report(db)
    cells = {(c["mode"], c["scenario"]): c for c in document["cells"]}
    assert set(cells) == {(m, s) for m in ("jit", "eager") for s in ("startup", "train")}
    assert all(c["status"] == "ok" for c in cells.values())
    jit, eager = (cells[mode, "startup"]["metrics"] for mode in ("jit", "eager"))
    # Building compiles nothing; the first step compiles the whole step as one program.
    assert jit["compiled_graphs"]["median"] == 1
    assert eager["compiled_graphs"]["median"] > 10  # one small program per primitive
    # Tracing for shapes (eval_shape) happens while building; compiling in the first step.
    assert 0 < jit["compile_seconds"]["median"] < (jit["build_seconds"]["median"]
                                                   + jit["first_step_seconds"]["median"])
    manifest = cells["jit", "train"]["manifest"]
    assert (manifest["intra_op_threads"], manifest["x64_enabled"]) == (1, True)
    assert manifest["xla_flags"].endswith("--xla_cpu_multi_thread_eigen=false")
    markdown = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "report", "--db", db, "--format", "markdown"],
        capture_output=True, text=True, check=True).stdout
    assert "compiled graphs 1, compiling" in markdown
    assert "- mlp: jax/jit needs" in markdown.split("## Break-even of compiled modes")[1]
