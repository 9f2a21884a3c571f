"""Real PyTorch, TensorFlow and JAX: smoke cells in worker processes, and same-model checks."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.engine.plan import Request
from dlarena.engine.runner import run
from dlarena.executors.local import LocalExecutor
from dlarena.store import Store
from tests.conftest import RecordingObserver, fake_cell, require

pytestmark = pytest.mark.frameworks
# Set up in this process by the `runtimes` fixture (JAX's runtime would pin it to one CPU).
FRAMEWORKS = ("torch", "tensorflow")
# What `make run` measures (INFO.in_default_set), in registry order.
DEFAULT_SET = tuple(name for name, info in registry.frameworks().items() if info.in_default_set)


def test_smoke_cells_measure_positive_finite_throughput(tmp_path: Path) -> None:
    for framework in DEFAULT_SET:
        require(framework)
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", threads=ThreadSettings(1, 1), min_window_seconds=0.05)
    summary = run(request, store=store, executor=LocalExecutor(), interpreters={},
                  observer=RecordingObserver())
    cells = store.cells(summary.run_id)
    assert summary.failed == 0, [c.error for c in cells if not c.ok]
    assert {(c.spec.workload, c.spec.framework, c.spec.scenario) for c in cells} == {
        (w, f, s) for w in ("mlp", "cnn") for f in DEFAULT_SET for s in ("train", "infer")
    }
    for cell in cells:
        values = cell.samples[f"{cell.spec.scenario}_throughput"]
        assert len(values) == 3 and all(math.isfinite(v) and v > 0 for v in values)
        assert cell.samples["peak_rss_bytes"][0] > 100 * 2**20  # a framework was loaded
        manifest = cell.details[0]["manifest"]
        assert (manifest["intra_op_threads"], manifest["inter_op_threads"]) == (1, 1)
        assert cell.framework_version


def _implementation(runtimes: dict[str, Any], workload: str, framework: str) -> Any:
    mode = registry.frameworks()[framework].default_mode
    cell = fake_cell(workload=workload, framework=framework, mode=mode, size="smoke")
    impl = registry.implementation_class(workload, framework)(
        registry.workloads()[workload], cell, runtimes[framework])
    impl.build()
    impl.set_weights(registry.workloads()[workload].initial_weights("smoke", seed=3))
    return impl


@pytest.mark.parametrize("workload", ["mlp", "cnn"])
def test_canonical_weights_round_trip(runtimes: dict[str, Any], workload: str) -> None:
    expected = registry.workloads()[workload].initial_weights("smoke", seed=3)
    for framework in FRAMEWORKS:
        impl = _implementation(runtimes, workload, framework)
        got = impl.get_weights()
        assert got.keys() == expected.keys()
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{framework} {name}")
        assert impl.trainable_parameter_count() == registry.workloads()[workload] \
            .trainable_parameter_count("smoke")


@pytest.mark.parametrize("workload", ["mlp", "cnn"])
def test_same_weights_give_the_same_predictions(runtimes: dict[str, Any], workload: str) -> None:
    spec = registry.workloads()[workload]
    inputs, labels = spec.synthetic_batch(np.random.default_rng(5), 8, "smoke")
    outputs = {}
    for framework in FRAMEWORKS:
        impl = _implementation(runtimes, workload, framework)
        impl.prepare(training=False)
        outputs[framework] = np.asarray(impl.infer_step(impl.to_device(inputs, labels)))
    # float32 sums of a few thousand terms in different orders: agree to ~1e-5 relative.
    np.testing.assert_allclose(outputs["torch"], outputs["tensorflow"], rtol=1e-4, atol=1e-5)


# -- parity: the real implementations pass, planted differences fail and name the layer ------


def _evidence(runtimes: dict[str, Any], workload: str, framework: str, tmp_path: Path,
              implementation: Any = None, mode: str | None = None) -> dict[str, np.ndarray]:
    from dlarena.parity.probe import probe

    spec = registry.workloads()[workload]
    cls = implementation or registry.implementation_class(workload, framework)

    def build(cell: Any) -> Any:
        impl = cls(spec, cell, runtimes[framework])
        impl.build()
        impl.set_weights(spec.initial_weights(cell.size, cell.seed))
        return impl

    mode = mode or registry.frameworks()[framework].default_mode
    path = tmp_path / f"{framework}.npz"
    probe(fake_cell(workload=workload, framework=framework, mode=mode, precision="fp64"),
          runtimes[framework], build, str(path))
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def _compare(workload: str, a: dict[str, np.ndarray], b: dict[str, np.ndarray],
             modes: tuple[str, str] = ("eager", "function")) -> Any:
    from dlarena.parity.check import model_facts, side
    from dlarena.parity.compare import compare

    return compare(workload=workload, size="smoke", facts=model_facts(workload, "smoke"),
                   first=side("torch", modes[0]), a=a, second=side("tensorflow", modes[1]),
                   b=b)


def test_compiled_modes_are_checked_through_their_compiled_passes(
    runtimes: dict[str, Any], tmp_path: Path
) -> None:
    """torch.compile and XLA in float64: layer outputs and gradients come from the compiled
    graphs (no graph break), agree at the float64 tolerances, and their float32 paths keep
    float32 precision."""
    from torch._dynamo.utils import counters

    counters.clear()
    compiled = _evidence(runtimes, "mlp", "torch", tmp_path, mode="compile")
    # a graph without gradients (layer outputs) and one with (gradients, training steps), in
    # float64 and again in float32 for the audit: every pass went through the compiler
    assert counters["stats"]["unique_graphs"] >= 4
    assert sum(counters["graph_break"].values()) == 0
    xla = _evidence(runtimes, "mlp", "tensorflow", tmp_path, mode="xla")
    result = _compare("mlp", compiled, xla, modes=("compile", "xla"))
    assert result.passed, result.reason
    assert (result.first_label, result.second_label) == ("torch/compile", "tensorflow/xla")
    assert [audit.worst.ratio < 10 for audit in result.audits] == [True, True]


def test_check_command_passes_for_every_workload() -> None:
    """torch, tensorflow and jax: every pair the same model on all ten workloads at smoke."""
    import subprocess
    import sys

    frameworks = ("torch", "tensorflow", "jax")
    for framework in frameworks:
        require(framework)
    result = subprocess.run([sys.executable, "-m", "dlarena.cli", "check", "--threads", "1",
                             "--size", "smoke", "--frameworks", ",".join(frameworks)],
                            capture_output=True, text=True, timeout=2400, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    pairs = len(list(itertools.combinations(frameworks, 2)))
    assert result.stdout.count("same model") == pairs * len(registry.workloads())
    assert "✗" not in result.stdout


def test_a_wrong_batchnorm_epsilon_is_caught_at_its_layer(
    runtimes: dict[str, Any], tmp_path: Path
) -> None:
    from dlarena.workloads.cnn.keras import Implementation as KerasCnn

    class WrongEpsilon(KerasCnn):
        def build_model(self) -> Any:
            model = super().build_model()
            model.get_layer("conv1_2_bn").epsilon = 1e-3  # Keras' default, not the agreed 1e-5
            return model

    reference = _evidence(runtimes, "cnn", "torch", tmp_path)
    planted = _evidence(runtimes, "cnn", "tensorflow", tmp_path, WrongEpsilon)
    result = _compare("cnn", reference, planted)
    assert not result.passed
    assert result.reason.startswith("forward (inference mode): first difference at conv1_2_bn")


def test_a_wrong_batchnorm_momentum_is_caught_at_its_layer(
    runtimes: dict[str, Any], tmp_path: Path
) -> None:
    from dlarena.workloads.cnn.keras import Implementation as KerasCnn

    class WrongMomentum(KerasCnn):
        def build_model(self) -> Any:
            model = super().build_model()
            model.get_layer("conv2_1_bn").momentum = 0.1  # PyTorch's number, Keras' meaning
            return model

    reference = _evidence(runtimes, "cnn", "torch", tmp_path)
    planted = _evidence(runtimes, "cnn", "tensorflow", tmp_path, WrongMomentum)
    result = _compare("cnn", reference, planted)
    assert not result.passed
    assert result.reason.startswith("weights after 5 sgd steps: first difference at conv2_1_bn.")


def test_a_missing_bias_is_refused_naming_the_weight(
    runtimes: dict[str, Any], tmp_path: Path
) -> None:
    from dlarena.workloads.mlp.keras import Implementation as KerasMlp

    class NoOutputBias(KerasMlp):
        def build_model(self) -> Any:
            model = super().build_model()
            from tensorflow import keras

            layers = [layer for layer in model.layers if layer.name != "out"]
            return keras.Sequential([keras.Input(shape=(784,)), *layers,
                                     keras.layers.Dense(10, use_bias=False, name="out")])

    with pytest.raises(ValueError, match=r"the tensorflow model lacks out\.bias"):
        _evidence(runtimes, "mlp", "tensorflow", tmp_path, NoOutputBias)


def test_a_run_checks_parity_once_and_reuses_it(tmp_path: Path) -> None:
    from dlarena.engine.runner import ensure_parity

    for framework in DEFAULT_SET:
        require(framework)
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", workloads=["mlp"], scenarios=["infer"],
                      threads=ThreadSettings(1, 1), min_window_seconds=0.05)
    summary = run(request, store=store, executor=LocalExecutor(), interpreters={},
                  observer=(first := RecordingObserver()))
    results = store.parity(summary.run_id)
    assert all(result.passed for result in results)
    assert {frozenset((r.first, r.second)) for r in results} == {
        frozenset(pair) for pair in itertools.combinations(DEFAULT_SET, 2)}
    assert ("checked", (results, False)) in first.events

    from dlarena.engine.plan import build_plan
    from dlarena.engine.runner import check_installed

    second = RecordingObserver()
    planned = build_plan(request, ThreadSettings(1, 1))
    other_run = store.create_run(plan_key="x", command="c", environment={"created_utc": "t"})
    ensure_parity(planned, check_installed(list(DEFAULT_SET), {}), run_id=other_run,
                  store=store, executor=LocalExecutor(), observer=second)
    assert [event[0] for event in second.events] == ["checked"]
    assert second.events[0][1][1] is True  # cached
    assert store.parity(other_run) == results


def test_a_swapped_lstm_gate_order_is_caught_at_the_lstm(
    runtimes: dict[str, Any], tmp_path: Path
) -> None:
    from dlarena.workloads.lstm.keras import Implementation as KerasLstm

    class SwappedGates(KerasLstm):
        """Loads the canonical (i, f, c, o) blocks as (i, c, f, o)."""

        def set_weights(self, weights: dict[str, np.ndarray]) -> None:
            swapped = dict(weights)
            for suffix in ("kernel", "recurrent_kernel", "bias"):
                i, f, c, o = np.split(weights[f"lstm.{suffix}"], 4, axis=-1)
                swapped[f"lstm.{suffix}"] = np.concatenate([i, c, f, o], axis=-1)
            super().set_weights(swapped)

    reference = _evidence(runtimes, "lstm", "torch", tmp_path)
    planted = _evidence(runtimes, "lstm", "tensorflow", tmp_path, SwappedGates)
    result = _compare("lstm", reference, planted)
    assert not result.passed
    assert result.reason.startswith("forward (inference mode): first difference at lstm")


def _workloads_with(framework: str) -> list[str]:
    return [name for name in registry.workloads()
            if registry.implementation_path(name, framework) is not None]


@pytest.mark.parametrize("workload", _workloads_with("torch"))
def test_analytic_flops_match_pytorchs_counter(runtimes: dict[str, Any], workload: str) -> None:
    """The FLOPs every GFLOP/s figure rests on, counted twice: by hand and by PyTorch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    spec = registry.workloads()[workload]
    impl = _implementation(runtimes, workload, "torch")
    impl.prepare(training=False)
    inputs, labels = spec.synthetic_batch(np.random.default_rng(0), 2, "smoke")
    batch = impl.to_device(inputs, labels)
    # Fused CPU kernels have no counter formula: oneDNN's LSTM, flash attention and the
    # transformer's inference fast path. Without them the same layers run as the matrix
    # products the counter sees and the analytic count describes.
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with (torch.backends.mkldnn.flags(enabled=False), sdpa_kernel(SDPBackend.MATH),
              torch.no_grad(), FlopCounterMode(display=False) as counter):
            impl.model(batch[0])
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    assert counter.get_total_flops() == 2 * spec.forward_flops("smoke")


def test_a_depthwise_convolution_with_bias_maps_both_weights(runtimes: dict[str, Any]) -> None:
    """Keras' DepthwiseConv2D (not a Conv2D subclass) against PyTorch's grouped Conv2d."""
    import keras
    import torch

    from dlarena.frameworks._keras import layouts as keras_layers
    from dlarena.frameworks.torch import layouts as torch_layers

    layer = keras.layers.DepthwiseConv2D(3, use_bias=True)
    layer.build((None, 8, 8, 4))
    keras_shapes = {k: v.read().shape for k, v in keras_layers.slots(layer, {}).items()}
    conv = torch.nn.Conv2d(4, 4, 3, groups=4, bias=True)
    torch_shapes = {k: v.read().shape for k, v in torch_layers.slots(conv).items()}
    assert keras_shapes == torch_shapes == {"kernel": (4, 1, 3, 3), "bias": (4,)}
