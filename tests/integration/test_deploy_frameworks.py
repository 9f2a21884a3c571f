"""Real PyTorch, TensorFlow, JAX and Keras-on-JAX/-PyTorch deployment cells at smoke size
(mlp and cnn): a save that loads in a fresh process with equal outputs, ONNX and LiteRT
exports checked against the framework and run in their runtimes, a served model under load.
A format a framework cannot produce here is an `unsupported` cell saying why. JAX's paths
also in one process: a loader that read nothing, or a program that lost its weights, would be
told apart."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from dlarena.cell import MeasureSettings
from dlarena.deploy.compare import agreement
from dlarena.executors.local import LocalExecutor
from tests.conftest import fake_cell, require

pytestmark = pytest.mark.frameworks
SMOKE = MeasureSettings(min_window_seconds=0.05, windows=3, max_warmup_windows=1)
MODES = {"torch": "eager", "tensorflow": "function", "jax": "jit", "keras-jax": "jit_compile",
         "keras-torch": "eager"}
# What each framework runs on, to require before measuring.
NEEDS = {"keras-jax": ("keras", "jax", "tensorflow"), "keras-torch": ("keras", "torch")}


def measure(framework: str, workload: str, scenario: str) -> Any:
    for package in NEEDS.get(framework, (framework,)):
        require(package)
    require("onnxruntime")
    cell = fake_cell(framework=framework, mode=MODES[framework], workload=workload,
                     scenario=scenario, measure=SMOKE, timeout_seconds=300.0,
                     batch_size=1 if scenario == "serve" else 8)
    return LocalExecutor().run(cell, lambda _cell, _event: None)


@pytest.mark.parametrize(("framework", "workload", "scenario"), [
    ("torch", "mlp", "save-program"),  # torch.export: the most fragile of PyTorch's
    ("tensorflow", "mlp", "save-weights"),  # .weights.h5: bit for bit
    ("jax", "mlp", "save-weights"),  # an Orbax checkpoint: bit for bit
    ("jax", "cnn", "save-program"),  # jax.export: NHWC inputs, BatchNorm statistics
    ("keras-jax", "cnn", "save-model"),  # a .keras file read on the JAX backend
    ("keras-jax", "mlp", "save-program"),  # a SavedModel through jax2tf
    ("keras-torch", "cnn", "save-model"),  # a .keras file read on the PyTorch backend
    ("keras-torch", "mlp", "save-program"),  # model.export(format="torch"): a .pt2
    ("tensorflow", "transformer", "save-model"),  # its GELU registered: the .keras reloads
])
def test_saved_model_loads_in_a_fresh_process_with_equal_outputs(
        framework: str, workload: str, scenario: str) -> None:
    outcome = measure(framework, workload, scenario)
    assert outcome.status == "ok", outcome.error
    metrics, samples = outcome.payload["metrics"], outcome.payload["samples"]
    assert samples["load_seconds"][0] > samples["load_read_seconds"][0] > 0
    assert metrics["file_bytes"] > 10_000
    if metrics["bit_exact_promised"]:
        assert metrics["max_abs_difference"] == 0.0


@pytest.mark.parametrize(("framework", "workload", "scenario"), [
    ("torch", "cnn", "export-onnx"),
    ("torch", "mlp", "export-aotinductor"),  # C++ kernels compiled by the system's g++
    ("tensorflow", "cnn", "export-litert"),  # NHWC inputs, through the SavedModel
    ("jax", "cnn", "export-litert"),  # through jax2tf and a SavedModel
    ("keras-jax", "cnn", "export-litert"),  # Keras' SavedModel (jax2tf), then converted
    ("keras-torch", "cnn", "export-onnx"),  # Keras' ONNX export through torch.onnx
    ("tensorflow", "transformer", "export-onnx"),  # erf, not erfc; no captured constant
])
def test_export_runs_in_its_runtime_beside_the_framework(
        framework: str, workload: str, scenario: str) -> None:
    require("ai_edge_litert")
    outcome = measure(framework, workload, scenario)
    assert outcome.status == "ok", outcome.error
    metrics, samples = outcome.payload["metrics"], outcome.payload["samples"]
    # Another runtime's kernels differ in the last bits; AOTInductor's compiled MLP calls the
    # same GEMM as eager and may agree bit for bit (its runtime is named in the manifest).
    least = 0 if scenario == "export-aotinductor" else math.ulp(0.0)
    assert least <= metrics["max_abs_difference"] < 1e-4
    assert metrics["export_bytes"] > 10_000
    assert metrics["native_infer_throughput"] > 0 and math.isfinite(metrics["portable_speedup"])
    assert len(samples["portable_latency_seconds"]) >= 20
    assert outcome.payload["throughput_metric"] == "portable_infer_throughput"
    if scenario == "export-aotinductor":
        assert outcome.payload["manifest"]["portable_runtime"].endswith("(AOTInductor)")


@pytest.mark.parametrize(("framework", "scenario", "reason"), [
    ("jax", "save-model", "JAX has no format holding architecture and weights"),
    ("jax", "export-onnx", "jax2onnx is not installed"),
    ("keras-jax", "export-onnx", "Keras exports ONNX from JAX through jax2onnx, and jax2onnx "
                                 "is not installed"),
    ("torch", "export-litert", "litert-torch is not installed"),
    ("jax", "export-aotinductor", "jax has no aotinductor exporter (AOTInductor compiles "
                                  "PyTorch programs"),
    ("keras-torch", "export-litert", "Keras exports LiteRT from PyTorch through litert-torch, "
                                     "which is not installed"),
])
def test_what_cannot_be_shipped_here_is_unsupported_saying_why(
        framework: str, scenario: str, reason: str) -> None:
    outcome = measure(framework, "mlp", scenario)
    assert outcome.status == "unsupported", outcome.error
    assert outcome.error.startswith(reason)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_served_model_answers_under_load(framework: str) -> None:
    outcome = measure(framework, "mlp", "serve")
    assert outcome.status == "ok", outcome.error
    metrics = outcome.payload["metrics"]
    assert all(metrics[f"serve_errors_c{c}"] == 0 for c in (1, 4, 16))
    assert metrics["server_peak_rss_bytes"] > 100 * 2**20  # the server loaded the framework


def _jax_mlp(seed: int) -> Any:
    from dlarena import registry
    from dlarena.frameworks.jax.deploy import JaxDeployment
    from dlarena.worker.parts import build_implementation, setup_runtime

    cell = fake_cell(framework="jax", mode="jit", seed=seed)
    impl = build_implementation(cell, setup_runtime(cell))
    inputs, labels = registry.workloads()["mlp"].synthetic_batch(
        np.random.default_rng(0), 8, "smoke")
    return JaxDeployment(impl), inputs, labels


@pytest.mark.parametrize(("kind", "exact"), [("weights", True), ("program", False)])
def test_jax_loads_the_saved_weights_not_its_own(kind: str, exact: bool, tmp_path: Any) -> None:
    require("jax")
    require("orbax.checkpoint")
    saved, inputs, labels = _jax_mlp(seed=0)
    reference = saved.predict(inputs, labels)
    path = saved.save(kind, str(tmp_path), inputs)
    other, _, _ = _jax_mlp(seed=1000)  # built with other weights, as the fresh process is
    assert not agreement(reference, other.predict(inputs, labels), exact=False).equal
    loaded = other.load(kind, path)(inputs)
    check = agreement(reference, loaded, exact=exact)
    assert check.equal, check.reason
    assert saved.bit_exact(kind) is exact
