"""What a Keras 3 backend provides to the Keras implementations: one seam, three backends.

The Keras models (`workloads/<w>/keras.py`, base class `model.KerasModel`) are written
in backend-agnostic Keras: `keras.layers`, `keras.ops`, Keras losses and optimizers. What
cannot be written that way is the training step: Keras 3 has no backend-neutral way to take
gradients, so each backend's idiomatic custom step lives beside its runtime, as the Keras
guides write it ("writing a training loop from scratch" in TensorFlow, JAX and PyTorch):

- TensorFlow (`tensorflow`): `tf.GradientTape` and `optimizer.apply_gradients`, wrapped in
  `tf.function` (with XLA in mode `xla`), exactly as before the seam existed;
- JAX (`keras-jax`): a stateless step, `model.stateless_call` under `jax.value_and_grad`,
  then `optimizer.stateless_apply`, wrapped in `jax.jit` with the state donated, as Keras'
  own JAX trainer does;
- PyTorch (`keras-torch`): `loss.backward()` and `optimizer.apply` under `torch.no_grad()`,
  wrapped in `torch.compile` in mode `jit_compile`, as Keras' own torch trainer does.

A framework whose runtime is a `KerasRuntime` runs the Keras implementations; its runtime
selects the backend (KERAS_BACKEND) before Keras is imported.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.contract import Runtime

Step = Callable[..., Any]


class KerasSteps(ABC):
    """One model's training, inference and gradient steps on one backend, in one mode."""

    def __init__(self, model: Any, optimizer: Any, loss: Step, mode: str) -> None:
        self.model, self.optimizer, self.loss, self.mode = model, optimizer, loss, mode

    @abstractmethod
    def train(self, inputs: Any, labels: Any) -> Any:
        """One optimizer step; returns what the runtime's `sync` and `scalar` take."""

    @abstractmethod
    def infer(self, inputs: Any) -> Any:
        """A forward pass in inference mode; returns the logits."""

    @abstractmethod
    def gradients(self, inputs: Any, labels: Any) -> tuple[float, list[np.ndarray | None]]:
        """The loss and each trainable variable's gradient (None: not on the loss's path),
        in `model.trainable_variables` order, computed as the mode computes them."""

    @abstractmethod
    def compile(self, step: Step) -> Step:
        """`step` wrapped as this mode wraps the timed steps (for the check's layer outputs).
        The wrapped step must not change the model's variables."""

    @abstractmethod
    def compilation_stats(self) -> dict[str, float]:
        """Traces or compilations so far (more than one per input signature: retracing)."""

    def weights_current(self) -> None:  # noqa: B027 (a hook: most backends keep no copy)
        """Write state kept outside the Keras variables (a stateless step's) back into them."""

    def weights_written(self) -> None:  # noqa: B027 (a hook)
        """The variables were assigned from outside: drop any state copied from them."""


class KerasRuntime(Runtime):
    """A runtime whose framework runs the Keras implementations on one Keras backend."""

    @abstractmethod
    def steps(self, model: Any, optimizer: Any, loss: Step, mode: str) -> KerasSteps:
        """The backend's steps for a built model; raises ValueError for an unknown mode."""

    @abstractmethod
    def place(self, array: np.ndarray) -> Any:
        """A host array as a tensor on the cell's device."""

    def scope(self) -> contextlib.AbstractContextManager[None]:
        """Where models and optimizers are built (a device scope where the backend has one)."""
        return contextlib.nullcontext()

    def data_parallel_scope(self) -> contextlib.AbstractContextManager[None]:
        """Where a data-parallel model is built, after `join_data_parallel` (the backend's
        distribution strategy): its steps then train on every rank's shard together."""
        raise NotImplementedError("this Keras backend does not train data-parallel here")

    def use_dtype(self, dtype: str) -> None:
        """Called before a model of `dtype` is built (JAX must be told about float64)."""

    @abstractmethod
    def sigmoid_cross_entropy(self) -> Step:
        """(labels, logits) -> mean sigmoid cross-entropy, logits reshaped to the labels'."""


def keras_sigmoid_cross_entropy(keras: Any) -> Step:
    """The mean sigmoid cross-entropy in `keras.ops`, for backends without their own."""
    ops = keras.ops

    def sigmoid(labels: Any, logits: Any) -> Any:
        logits = ops.reshape(logits, ops.shape(labels))
        return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))
    return sigmoid


def keras_backend(expected: str) -> Any:
    """Import Keras, which must run on `expected` (the runtime set KERAS_BACKEND first)."""
    import keras

    if keras.backend.backend() != expected:
        raise RuntimeError(f"Keras was imported with the {keras.backend.backend()!r} backend "
                           f"before the runtime could select {expected!r}")
    return keras



def seed_without_tensorflow(seed: int) -> None:
    """What `keras.utils.set_random_seed` does on JAX and PyTorch, less importing TensorFlow.

    `set_random_seed` imports TensorFlow whenever it is installed (to seed it too), which
    would put TensorFlow's start-up, threads and memory into every Keras-on-JAX or -torch
    worker. The models draw nothing random once the canonical weights are loaded (no
    dropout), so Python's and NumPy's generators are seeded here and Keras' own global seed
    generator is left unseeded; `torch` is seeded by its runtime.
    """
    import random

    random.seed(seed)
    np.random.seed(seed)


def allow_float64_results() -> None:
    """Let Keras compute float64 in float64 on JAX and PyTorch (the same-model check's models).

    Keras' type promotion (`keras.backend.result_type`) maps float64 to float32 on every
    backend but TensorFlow, "to be aligned with JAX's default": on PyTorch a float64 Dense
    then multiplies in float32 and casts back (errors of 2e-7 where float64 gives 1e-16).
    This entry of its promotion table is set to float64 before a float64 model is built;
    float32 models are unaffected (no float64 value reaches their promotion).
    """
    from keras.src.backend.common import dtypes

    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
