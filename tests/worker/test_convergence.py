"""The convergence scenario's loop, with the fake framework and a tiny data set in memory."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from dlarena import registry
from dlarena.cell import ThreadSettings
from dlarena.data import catalogue as datasets
from dlarena.frameworks.fake.model import FakeImplementation
from dlarena.frameworks.fake.runtime import FakeRuntime
from dlarena.scenarios import SCENARIOS
from dlarena.worker.runners import EVAL_BATCH, runner
from tests.conftest import fake_cell


def tiny(name: str) -> datasets.Dataset:
    rng = np.random.default_rng(0)
    return datasets.Dataset(
        name=name, source="memory",
        train_inputs=rng.random((2 * EVAL_BATCH, 784), dtype=np.float32),
        train_labels=rng.integers(0, 10, 2 * EVAL_BATCH),
        test_inputs=rng.random((EVAL_BATCH, 784), dtype=np.float32),
        test_labels=rng.integers(0, 10, EVAL_BATCH),
    )


def run(monkeypatch: pytest.MonkeyPatch, workload: str, **options: Any) -> Any:
    monkeypatch.setattr(datasets, "load", tiny)
    cell = fake_cell(workload=workload, scenario="convergence", batch_size=100,
                     options={"dataset": "mnist", **options})
    runtime = FakeRuntime()
    runtime.setup(threads=ThreadSettings(1, 1), seed=0, device="cpu")
    impl = FakeImplementation(registry.workloads()[workload], cell, runtime)
    impl.build()
    events: list[tuple[str, int, int]] = []
    run_convergence = runner(SCENARIOS["convergence"].run)
    result = run_convergence(impl, runtime, registry.workloads()[workload], cell,
                             lambda *event: events.append(event))
    return result, events


def test_one_curve_point_per_epoch_and_phase_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    result, events = run(monkeypatch, "mlp", epochs=3)
    for name in ("epoch_seconds", "train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        assert len(result.samples[name]) == 3
    metrics = result.extra_metrics
    assert metrics["final_val_accuracy"] == result.samples["val_accuracy"][-1]
    assert metrics["training_seconds"] == pytest.approx(sum(result.samples["epoch_seconds"]))
    for phase in ("load", "build", "train"):
        assert metrics[f"peak_rss_{phase}_bytes"] > 10 * 2**20
    assert ("epoch", 3, 3) in events
    # the fake's logits are all equal: loss is log(10), accuracy the first class's share
    assert result.samples["val_loss"][0] == pytest.approx(np.log(10))


def test_time_to_target_only_when_the_target_is_reached(monkeypatch: pytest.MonkeyPatch) -> None:
    unreachable, _ = run(monkeypatch, "mlp", epochs=1, target_accuracy=0.99)
    assert "time_to_target_seconds" not in unreachable.extra_metrics
    reached, _ = run(monkeypatch, "mlp", epochs=2, target_accuracy=0.0)
    assert reached.extra_metrics["time_to_target_seconds"] == pytest.approx(
        reached.samples["epoch_seconds"][0])


def test_cnn_gets_grey_images_as_padded_three_channel_inputs() -> None:
    cnn = registry.workloads()["cnn"]
    grey = np.arange(2 * 784, dtype=np.float32).reshape(2, 784)
    images = cnn.from_dataset("fashion-mnist", grey)
    assert images.shape == (2, 3, 32, 32)
    assert np.array_equal(images[:, 0, 2:30, 2:30], grey.reshape(2, 28, 28))
    assert np.array_equal(images[:, 0], images[:, 2]) and images[:, :, :2].sum() == 0


def test_a_dataset_the_workload_cannot_train_on_is_a_usage_error() -> None:
    from dlarena.engine.plan import Request, build_plan
    from dlarena.errors import UsageError

    with pytest.raises(UsageError, match="mlp does not train on dataset 'movielens-100k'"):
        build_plan(Request(suite="accuracy", workloads=["mlp"], dataset="movielens-100k"),
                   ThreadSettings(1, 1))
