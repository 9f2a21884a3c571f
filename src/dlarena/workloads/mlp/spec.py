"""mlp: 784-128-64-10 with ReLU, softmax cross-entropy, Adam lr 1e-3 (seed 001's exercise)."""

from __future__ import annotations

import itertools

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload
from dlarena.workloads import flops

INPUTS = 784
HIDDEN = (128, 64)
CLASSES = 10


class Mlp(Workload):
    name = "mlp"
    description = "784-128-64-10 ReLU MLP, softmax cross-entropy, Adam lr 1e-3"
    datasets = ("mnist", "fashion-mnist")
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(batch_size=64, description="batch 64, a few short windows"),
        "cpu": SizeConfig(batch_size=64, description="batch 64"),
        "full": SizeConfig(batch_size=256, description="batch 256"),
    }

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        widths = (INPUTS, *HIDDEN, CLASSES)
        names = ("dense1", "dense2", "out")
        shapes: dict[str, Shape] = {}
        for name, fan_in, fan_out in zip(names, widths[:-1], widths[1:], strict=True):
            shapes[f"{name}.kernel"] = (fan_in, fan_out)
            shapes[f"{name}.bias"] = (fan_out,)
        return shapes

    def forward_flops(self, size: str) -> int:
        widths = (INPUTS, *HIDDEN, CLASSES)
        return sum(flops.dense(a, b) for a, b in itertools.pairwise(widths))

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = rng.random((batch_size, INPUTS), dtype=np.float32)
        labels = rng.integers(0, CLASSES, size=batch_size, dtype=np.int64)
        return inputs, labels


WORKLOAD = Mlp()
