"""A workload, described without any framework: shapes, sizes, batches, loss, optimizer.

A workload's `spec.py` subclasses `Workload` and imports NumPy at most. The canonical
parameter layout (names, shapes, orientation) is the workload's, so weights move between
frameworks as plain dicts of NumPy arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from dlarena.data.catalogue import Dataset
from dlarena.data.tasks import Classification, Task

Shape = tuple[int, ...]
Weights = dict[str, np.ndarray]

# Canonical names end in one of these; state is carried but not trained.
STATE_SUFFIXES = (".moving_mean", ".moving_variance")


@dataclass(frozen=True)
class SizeConfig:
    """One size of a workload: its default batch size and the architecture knobs."""

    batch_size: int
    description: str
    knobs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AdamSettings:
    """Stated explicitly because the defaults differ (Keras eps 1e-7, PyTorch 1e-8)."""

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8


@dataclass(frozen=True)
class SgdSettings:
    """Plain SGD; parity checks use it because its updates follow gradients linearly."""

    learning_rate: float


OptimizerSettings = AdamSettings | SgdSettings


@dataclass(frozen=True)
class BatchNormSettings:
    """PyTorch convention: new = (1 - momentum) * old + momentum * batch.

    Keras writes the same rule with momentum' = 1 - momentum, and defaults to 0.99 / 1e-3
    where PyTorch defaults to 0.1 / 1e-5: each implementation converts from these.

    The values are PyTorch's defaults as float32 holds them: epsilon float32(1e-5), and
    momentum 1 - float32(0.9), so that the old statistics' weight 0.9 is float32(0.9).
    MXNet's BatchNorm takes its momentum, and PaddlePaddle's both, as float32 operator
    attributes (MXNet 0.9 -> 0.8999999762): with 0.1 / 1e-5 their float64 running statistics
    parted from every other framework's by 7e-8 after 5 steps, and PaddlePaddle's outputs by
    1e-13. Every framework represents these exactly; nothing timed changes with them.
    """

    epsilon: float = 9.999999747378752e-06  # float32(1e-5)
    momentum: float = 0.10000002384185791  # 1 - float32(0.9), exact in float32 too


class Workload(ABC):
    """A model + task, described without any framework."""

    name: ClassVar[str]
    description: ClassVar[str]
    sizes: ClassVar[dict[str, SizeConfig]]
    # Real datasets this workload trains on in the convergence scenario (see datasets.py).
    datasets: ClassVar[tuple[str, ...]] = ()
    optimizer: ClassVar[AdamSettings] = AdamSettings()
    batch_norm: ClassVar[BatchNormSettings] = BatchNormSettings()
    # "softmax_cross_entropy": integer labels, class scores on the logits' last axis (one
    # label per sample or per token); "sigmoid_cross_entropy": float 0/1 labels, one score each.
    loss: ClassVar[str] = "softmax_cross_entropy"
    # What throughput counts: "images", "tokens" or "samples" (per second).
    unit: ClassVar[str] = "samples"
    # What a convergence run's val_accuracy measures (see `convergence_task`).
    quality: ClassVar[str] = "accuracy"

    def items_per_sample(self, size: str) -> int:
        """Units of `unit` in one sample (a sequence pair holds many tokens); 1 by default."""
        return 1

    @abstractmethod
    def forward_flops(self, size: str) -> int:
        """Floating-point operations of one sample's forward pass, counted analytically.

        The convention of the papers and of torch.utils.flop_counter: a multiply-add is two
        FLOPs, and only matrix products and convolutions (attention's included) count;
        element-wise work, normalisation and pooling are left out. A training step is
        taken as three forward passes (backward = two), see `train_flops`.
        """

    def train_flops(self, size: str) -> int:
        return 3 * self.forward_flops(size)

    @abstractmethod
    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        """Every weight in canonical layout and order, trainable and state."""

    @abstractmethod
    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and integer labels, drawn from `rng` (identical for every framework)."""

    def from_dataset(self, dataset: str, inputs: np.ndarray) -> np.ndarray:
        """A dataset's inputs in this workload's canonical input layout (default: as they are)."""
        return inputs

    def convergence_task(self, data: Dataset, size: str) -> Task:
        """How the convergence scenario trains and scores on `data` (default: classification)."""
        return Classification((self.from_dataset(data.name, data.train_inputs), data.train_labels),
                              (self.from_dataset(data.name, data.test_inputs), data.test_labels))

    def knobs(self, size: str) -> dict[str, Any]:
        return self.sizes[size].knobs

    def trainable_parameter_count(self, size: str) -> int:
        return sum(
            int(np.prod(shape))
            for name, shape in self.parameter_shapes(size).items()
            if not name.endswith(STATE_SUFFIXES)
        )

    def initial_weights(self, size: str, seed: int) -> Weights:
        """Glorot-uniform kernels, small uniform embeddings, zero biases, BatchNorm at identity.

        Frameworks initialise differently by default (Keras glorot, PyTorch kaiming), so every
        implementation loads these instead of keeping its own.
        """
        rng = np.random.default_rng(seed)
        weights: Weights = {}
        for name, shape in self.parameter_shapes(size).items():
            if name.endswith("kernel"):  # dense, conv and recurrent kernels
                weights[name] = _glorot_uniform(rng, shape)
            elif name.endswith(".embeddings"):  # Keras' default embedding initialiser
                weights[name] = rng.uniform(-0.05, 0.05, size=shape).astype(np.float32)
            elif name.endswith((".gamma", ".moving_variance")):
                weights[name] = np.ones(shape, np.float32)
            else:  # bias, beta, moving_mean
                weights[name] = np.zeros(shape, np.float32)
        return weights


def _glorot_uniform(rng: np.random.Generator, shape: Shape) -> np.ndarray:
    """Dense kernels are (in, out); conv kernels are (out, in, kh, kw)."""
    if len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = int(np.prod(shape[2:]))
        fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)
