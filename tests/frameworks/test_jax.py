"""The JAX framework: its layout walker and thread settings (NumPy only), then, with JAX in
this process, the float32 step's dtypes, recompilation counting and the donated train state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.contract.layouts import flattened_rows
from dlarena.frameworks.jax import layouts
from dlarena.frameworks.jax.runtime import CompileLog
from dlarena.frameworks.jax.threads import cpus_for, xla_flags
from tests.conftest import fake_cell, require

# -- the layout walker: Flax's variable tree <-> canonical names ------------------------------


def _variables() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "params": {
            "conv1": {"kernel": rng.random((3, 3, 2, 4))},  # HWIO
            "conv1_bn": {"scale": rng.random(4), "bias": rng.random(4)},
            "block1": {"depthwise": {"kernel": rng.random((3, 3, 1, 4))}},
            "fc1": {"kernel": rng.random((4 * 2 * 2, 5)), "bias": rng.random(5)},
            "embedding": {"embedding": rng.random((7, 3))},
            "lstm": {"kernel": rng.random((3, 8)), "recurrent_kernel": rng.random((2, 8)),
                     "bias": rng.random(8)},
        },
        "batch_stats": {"conv1_bn": {"mean": rng.random(4), "var": rng.random(4)}},
    }


def test_flax_names_become_canonical_ones() -> None:
    slots = layouts.named_slots(_variables(), {"fc1": (4, 2, 2)})
    assert set(slots) == {
        "conv1.kernel", "conv1_bn.gamma", "conv1_bn.beta", "conv1_bn.moving_mean",
        "conv1_bn.moving_variance", "block1_depthwise.kernel", "fc1.kernel", "fc1.bias",
        "embedding.embeddings", "lstm.kernel", "lstm.recurrent_kernel", "lstm.bias"}
    assert slots["conv1_bn.moving_variance"] == layouts.Slot("batch_stats", ("conv1_bn", "var"))
    assert slots["lstm.bias"].collection == "params"  # not a normalisation's beta


def test_kernels_convert_to_the_canonical_orientation_and_back() -> None:
    variables = _variables()
    slots = layouts.named_slots(variables, {"fc1": (4, 2, 2)})
    conv = layouts.read(variables["params"], slots["conv1.kernel"].path)
    assert slots["conv1.kernel"].to_canonical(conv).shape == (4, 2, 3, 3)  # OIHW
    depthwise = slots["block1_depthwise.kernel"].to_canonical(np.ones((3, 3, 1, 4)))
    assert depthwise.shape == (4, 1, 3, 3)
    for name in ("conv1.kernel", "fc1.kernel", "lstm.kernel"):
        slot = slots[name]
        native = layouts.read(variables[slot.collection], slot.path)
        np.testing.assert_array_equal(slot.from_canonical(slot.to_canonical(native)), native)


def test_a_flattened_nhwc_map_reorders_the_dense_rows_to_channels_first() -> None:
    channels, height, width = 3, 2, 2
    feature_map = np.random.default_rng(1).random((1, channels, height, width))
    canonical_kernel = np.random.default_rng(2).random((channels * height * width, 5))
    _, from_canonical = flattened_rows(channels, height, width)
    nhwc = feature_map.transpose(0, 2, 3, 1).reshape(1, -1)
    # The NHWC model's product equals the canonical (C, H, W) model's.
    np.testing.assert_allclose(nhwc @ from_canonical(canonical_kernel),
                               feature_map.reshape(1, -1) @ canonical_kernel)


def test_replaced_changes_only_the_named_leaves() -> None:
    tree = {"a": {"kernel": 1, "bias": 2}, "b": {"kernel": 3}}
    assert layouts.replaced(tree, {("a", "bias"): 20, ("b", "kernel"): 30}) == {
        "a": {"kernel": 1, "bias": 20}, "b": {"kernel": 30}}
    assert tree["a"]["bias"] == 2


def test_layer_outputs_keep_the_last_call_and_give_feature_maps_as_nchw() -> None:
    nhwc = np.zeros((2, 5, 6, 3))
    intermediates = {
        "conv1": {"__call__": (nhwc,)},
        "lstm": {"__call__": ((np.ones((2, 4)), "state"),)},  # a tuple: its first element
        "dense": {"__call__": (np.zeros((2, 3)), np.ones((2, 3)))},  # called twice: the last
        "helper": {"__call__": (np.zeros(1),)},  # no weights: not a canonical layer
    }
    outputs = layouts.layer_outputs(intermediates, {"conv1", "lstm", "dense"})
    assert set(outputs) == {"conv1", "lstm", "dense"}
    assert outputs["conv1"].shape == (2, 3, 5, 6)
    np.testing.assert_array_equal(outputs["lstm"], np.ones((2, 4)))
    np.testing.assert_array_equal(outputs["dense"], np.ones((2, 3)))


# -- threads and compile counting ----------------------------------------------------------


def test_xla_flags_keep_the_users_and_set_eigen_threading_from_the_thread_count() -> None:
    user = "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=true"
    assert xla_flags(user, ThreadSettings(1, 1)) == (
        "--xla_dump_to=/tmp/x --xla_cpu_multi_thread_eigen=false")
    assert xla_flags("", ThreadSettings(4, 1)) == "--xla_cpu_multi_thread_eigen=true"


def test_affinity_takes_the_first_cpus_allowed() -> None:
    assert cpus_for(ThreadSettings(2, 2), {5, 1, 3}) == {1, 3}
    assert cpus_for(ThreadSettings(8, 8), {0, 1}) == {0, 1}


def test_compile_log_counts_backend_compiles_and_adds_every_phase() -> None:
    log = CompileLog()
    log.record("/jax/core/compile/jaxpr_trace_duration", 0.5)
    log.record("/jax/core/compile/jaxpr_to_mlir_module_duration", 0.25)
    log.record("/jax/core/compile/backend_compile_duration", 1.0, fun_name="step")
    log.record("/jax/compilation_cache/cache_retrieval_time_sec", 9.0)  # not compiling
    assert (log.programs, log.seconds) == (1, 1.75)


# -- with JAX in this process ----------------------------------------------------------------


@pytest.fixture(scope="module")
def runtime() -> Iterator[Any]:
    """JAX's runtime as a worker sets it up, with every CPU (no affinity change here)."""
    require("jax")
    require("flax")
    require("optax")
    saved = dict(os.environ)
    cpus = len(os.sched_getaffinity(0))
    built = registry.runtime_class("jax")()
    built.setup(threads=ThreadSettings(cpus, cpus), seed=0, device="cpu")
    yield built
    os.environ.clear()
    os.environ.update(saved)


def _built(runtime: Any, workload: str, mode: str = "jit", precision: str = "fp32") -> Any:
    cell = fake_cell(workload=workload, framework="jax", mode=mode, precision=precision)
    spec = registry.workloads()[workload]
    impl = registry.implementation_class(workload, "jax")(spec, cell, runtime)
    impl.build()
    impl.set_weights(spec.initial_weights("smoke", seed=0))
    return impl


def _batch(impl: Any, workload: str, batch_size: int = 8) -> Any:
    spec = registry.workloads()[workload]
    return impl.to_device(*spec.synthetic_batch(np.random.default_rng(0), batch_size, "smoke"))


@pytest.mark.frameworks
@pytest.mark.parametrize("workload", ["cnn", "transformer"])
def test_float32_training_step_computes_in_float32_although_x64_is_on(
        runtime: Any, workload: str) -> None:
    """x64 is enabled in every JAX worker (the check needs float64); a float32 cell must
    still hold no float64 array: only scalars (Adam's bias corrections) may be float64."""
    import jax

    impl = _built(runtime, workload)
    inputs, labels = _batch(impl, workload)
    jaxpr = jax.make_jaxpr(impl._train_fn)(impl.state, inputs, labels)

    def arrays(jaxpr: Any) -> Iterator[Any]:
        for equation in jaxpr.eqns:
            yield from (var.aval for var in equation.outvars)
            for param in equation.params.values():
                inner = getattr(param, "jaxpr", None)
                if inner is not None:
                    yield from arrays(getattr(inner, "jaxpr", inner))

    wide = {str(aval) for aval in arrays(jaxpr.jaxpr)
            if getattr(aval, "dtype", None) == np.float64 and aval.shape != ()}
    assert not wide
    leaves = jax.tree_util.tree_leaves(impl.state.params)
    assert {leaf.dtype for leaf in leaves} == {np.dtype("float32")}


@pytest.mark.frameworks
def test_a_new_batch_shape_compiles_again_and_shows_in_the_count(runtime: Any) -> None:
    impl = _built(runtime, "mlp")
    batch = _batch(impl, "mlp")
    runtime.sync(impl.train_step(batch))
    after_first = impl.compilation_stats()["compiled_graphs"]
    for _ in range(3):
        runtime.sync(impl.train_step(batch))
    assert impl.compilation_stats()["compiled_graphs"] == after_first  # cached
    for size in (3, 5):  # a recompilation per step must show
        runtime.sync(impl.train_step(_batch(impl, "mlp", size)))
    assert impl.compilation_stats()["compiled_graphs"] >= after_first + 2
    assert impl.compilation_stats()["compile_seconds"] > 0


@pytest.mark.frameworks
def test_jit_donates_the_train_state_and_sync_waits_for_the_new_one(runtime: Any) -> None:
    from dlarena.frameworks.jax.runtime import Stepped

    impl = _built(runtime, "mlp")
    before = impl.state.params["dense1"]["kernel"]
    stepped = impl.train_step(_batch(impl, "mlp"))
    assert isinstance(stepped, Stepped) and stepped.state is impl.state
    runtime.sync(stepped)
    assert before.is_deleted()  # updated in place, as the other frameworks' optimizers do
    assert np.isfinite(runtime.scalar(stepped))


@pytest.mark.frameworks
def test_eager_mode_runs_op_by_op_and_agrees_with_jit(runtime: Any) -> None:
    results = {}
    for mode in ("jit", "eager"):
        impl = _built(runtime, "mlp", mode=mode)
        batch = _batch(impl, "mlp")
        losses = [runtime.scalar(impl.train_step(batch)) for _ in range(3)]
        results[mode] = (losses, impl.get_weights()["out.kernel"])
    np.testing.assert_allclose(results["eager"][0], results["jit"][0], rtol=1e-5)
    np.testing.assert_allclose(results["eager"][1], results["jit"][1], rtol=1e-4, atol=1e-6)
