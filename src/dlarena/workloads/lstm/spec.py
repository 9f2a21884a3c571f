"""lstm: a sequence classifier, embedding -> one LSTM layer -> dense on its last output.

Canonical LSTM layout (Keras' orientation): kernel (embedding, 4 x units), recurrent_kernel
(units, 4 x units), one bias (4 x units), gates in the order input, forget, cell, output —
the order both PyTorch and Keras use. PyTorch's LSTM carries a second bias (bias_hh); its
implementation holds it at zero and frozen, so both frameworks train the same parameters.
"""

from __future__ import annotations

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload
from dlarena.workloads import flops

CLASSES = 10


class Lstm(Workload):
    name = "lstm"
    description = "embedding + LSTM + dense sequence classifier, Adam lr 1e-3"
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=16, description="vocabulary 500, embedding 32, 64 units, 16 steps",
            knobs={"vocabulary": 500, "embedding": 32, "units": 64, "steps": 16},
        ),
        "cpu": SizeConfig(
            batch_size=64, description="vocabulary 5000, embedding 64, 128 units, 32 steps",
            knobs={"vocabulary": 5000, "embedding": 64, "units": 128, "steps": 32},
        ),
        "full": SizeConfig(
            batch_size=128, description="vocabulary 20000, embedding 128, 256 units, 64 steps",
            knobs={"vocabulary": 20000, "embedding": 128, "units": 256, "steps": 64},
        ),
    }

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        knobs = self.knobs(size)
        embedding, units = knobs["embedding"], knobs["units"]
        return {
            "embedding.embeddings": (knobs["vocabulary"], embedding),
            "lstm.kernel": (embedding, 4 * units),
            "lstm.recurrent_kernel": (units, 4 * units),
            "lstm.bias": (4 * units,),
            "out.kernel": (units, CLASSES),
            "out.bias": (CLASSES,),
        }

    def forward_flops(self, size: str) -> int:
        knobs = self.knobs(size)
        return (flops.lstm(knobs["embedding"], knobs["units"], knobs["steps"])
                + flops.dense(knobs["units"], CLASSES))

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        knobs = self.knobs(size)
        tokens = rng.integers(0, knobs["vocabulary"], size=(batch_size, knobs["steps"]),
                              dtype=np.int64)
        labels = rng.integers(0, CLASSES, size=batch_size, dtype=np.int64)
        return tokens, labels


WORKLOAD = Lstm()
