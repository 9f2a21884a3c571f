"""Keras 3 on JAX and on PyTorch: the Keras models compute PyTorch's, in their own workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dlarena import registry
from tests.conftest import json_report, require

pytestmark = pytest.mark.frameworks
KERAS_BACKENDS = ("keras-jax", "keras-torch")


def test_keras_on_jax_and_torch_compute_torchs_model_on_every_workload() -> None:
    """`dlarena check` at smoke size, each default mode against torch/eager, every workload
    the Keras implementations cover (float64 through jax_enable_x64 on JAX)."""
    for module in ("torch", "keras", "jax"):
        require(module)
    workloads = [w for w in registry.workloads() if registry.implementation_path(w, "keras-jax")]
    assert len(workloads) == len(registry.workloads())
    result = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "check", "--threads", "1", "--size", "smoke",
         "--frameworks", ",".join(("torch", *KERAS_BACKENDS))],
        capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    # Three pairs per workload: torch-keras-jax, torch-keras-torch, keras-jax-keras-torch.
    assert result.stdout.count("same model") == 3 * len(workloads), result.stdout[-5000:]
    assert "✗" not in result.stdout


def test_each_backend_runs_its_modes_in_a_worker_without_tensorflow(tmp_path: Path) -> None:
    """Train cells of mlp in every mode: KERAS_BACKEND took, threads are as set, TensorFlow
    was never imported, and the compiled modes compiled once."""
    for module in ("torch", "keras", "jax"):
        require(module)
    db = str(tmp_path / "keras.db")
    ran = subprocess.run(
        [sys.executable, "-m", "dlarena.cli", "run", "--frameworks", ",".join(KERAS_BACKENDS),
         "--workloads", "mlp", "--scenarios", "train", "--size", "smoke", "--modes", "all",
         "--threads", "1", "--windows", "2", "--min-window", "0.05", "--no-parity",
         "--no-until-decided",
         "--db", db], capture_output=True, text=True, timeout=900, check=False)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    document = json_report(db)
    cells = document["cells"]
    assert {(c["framework"], c["mode"]) for c in cells} == {
        ("keras-jax", "jit_compile"), ("keras-jax", "eager"),
        ("keras-torch", "eager"), ("keras-torch", "jit_compile")}
    assert all(c["status"] == "ok" for c in cells), [c.get("error") for c in cells]
    manifests = {c["framework"]: c["manifest"] for c in cells}
    assert manifests["keras-jax"]["keras_backend"] == "jax"
    # float32 means float32 on a GPU too: JAX's default there would be TF32
    assert manifests["keras-jax"]["matmul_precision"] == "highest"
    assert not any(manifest["tf32"] for manifest in manifests.values())
    assert manifests["keras-torch"]["keras_backend"] == "torch"
    assert manifests["keras-torch"]["intra_op_threads"] == 1
    # Keras on JAX is limited and read back as JAX is: by the CPUs the process may use.
    assert manifests["keras-jax"]["intra_op_threads"] == 1
    assert manifests["keras-jax"]["thread_control"].startswith("CPU affinity")
    assert not any(manifest["tensorflow_imported"] for manifest in manifests.values())
    compiled = {c["framework"]: c["metrics"] for c in cells if c["mode"] == "jit_compile"}
    assert compiled["keras-jax"]["compilations"]["median"] >= 1
    assert compiled["keras-torch"]["compiled_graphs"]["median"] >= 1
