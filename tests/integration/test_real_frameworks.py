"""Real PyTorch and TensorFlow: smoke cells in worker processes, and same-model checks."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.executors.local import LocalExecutor
from dlarena.plan import Request
from dlarena.runner import run
from dlarena.store import Store
from tests.conftest import RecordingObserver, fake_cell

pytestmark = pytest.mark.frameworks
FRAMEWORKS = ("torch", "tensorflow")


def test_smoke_cells_measure_positive_finite_throughput(tmp_path: Path) -> None:
    for framework in FRAMEWORKS:
        pytest.importorskip(framework)
    store = Store.open(tmp_path / "r.db")
    request = Request(suite="smoke", threads=ThreadSettings(1, 1), min_window_seconds=0.05)
    summary = run(request, store=store, executor=LocalExecutor(), interpreters={},
                  observer=RecordingObserver())
    cells = store.cells(summary.run_id)
    assert summary.failed == 0, [c.error for c in cells if not c.ok]
    assert {(c.spec.workload, c.spec.framework, c.spec.scenario) for c in cells} == {
        (w, f, s) for w in ("mlp", "cnn") for f in FRAMEWORKS for s in ("train", "infer")
    }
    for cell in cells:
        values = cell.samples[f"{cell.spec.scenario}_throughput"]
        assert len(values) == 3 and all(math.isfinite(v) and v > 0 for v in values)
        assert cell.samples["peak_rss_bytes"][0] > 100 * 2**20  # a framework was loaded
        manifest = cell.details[0]["manifest"]
        assert (manifest["intra_op_threads"], manifest["inter_op_threads"]) == (1, 1)
        assert cell.framework_version


@pytest.fixture(scope="module")
def runtimes() -> dict[str, Any]:
    """One runtime per framework for this process: threads can be set only once."""
    built = {}
    for framework in FRAMEWORKS:
        pytest.importorskip(framework)
        runtime = registry.load(registry.runtime_path(framework))()  # type: ignore[operator]
        runtime.setup(threads=ThreadSettings(1, 1), seed=0, device="cpu")
        built[framework] = runtime
    return built


def _implementation(runtimes: dict[str, Any], workload: str, framework: str) -> Any:
    mode = registry.frameworks()[framework].default_mode
    cell = fake_cell(workload=workload, framework=framework, mode=mode, size="smoke")
    path = registry.implementation_path(workload, framework)
    assert path is not None
    impl = registry.load(path)(registry.workloads()[workload], cell, runtimes[framework])  # type: ignore[operator]
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
