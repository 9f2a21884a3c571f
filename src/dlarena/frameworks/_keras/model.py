"""The base class of every Keras implementation (custom training step), and shared helpers.

Backend-agnostic Keras 3: the frameworks `tensorflow`, `keras-jax` and `keras-torch` all run
these models; the backend's own step comes from the runtime (see `backend`).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from types import CodeType
from typing import Any

import numpy as np

from dlarena.contract import (
    Implementation,
    SgdSettings,
    Weights,
    check_layout,
    stated_hyperparameters,
)
from dlarena.frameworks._keras import layouts as keras_layers
from dlarena.frameworks._keras.backend import KerasRuntime


class KerasModel(Implementation):
    """Keras layers named after the canonical prefixes, trained with the backend's custom step.

    Backend-agnostic: the backend (TensorFlow, JAX or PyTorch) is the runtime's, and so are
    the steps (`backend.KerasSteps`); see `backend` for what each backend's step is.
    """

    runtime: KerasRuntime

    @abstractmethod
    def build_model(self) -> Any:
        """A built `keras.Model` whose layer names are the canonical prefixes."""

    def native_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Canonical inputs -> this implementation's layout (identity unless NHWC images)."""
        return inputs

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        """Dense layers fed by a flattened (C, H, W) map, whose rows Keras orders (H, W, C)."""
        return {}

    def build(self) -> None:
        import keras

        settings = self.optimizer_settings()
        self.runtime.use_dtype(self.cell.dtype)
        with self.runtime.scope(), _floatx(self.cell.dtype):
            self.model = self.build_model()
            if isinstance(settings, SgdSettings):
                self.optimizer = keras.optimizers.SGD(learning_rate=settings.learning_rate)
            else:
                self.optimizer = _adam_with_pytorch_epsilon()(
                    learning_rate=settings.learning_rate,
                    beta_1=settings.beta_1,
                    beta_2=settings.beta_2,
                    epsilon=settings.epsilon,
                )
            self.optimizer.build(self.model.trainable_variables)
            # Keras losses compute in the float type current at their construction.
            self.loss_fn = self._loss(self.workload.loss)
        self.steps = self.runtime.steps(self.model, self.optimizer, self.loss_fn,
                                        self.cell.mode)

    def _loss(self, kind: str) -> Callable[[Any, Any], Any]:
        """The workload's loss, averaged over every label (tokens included)."""
        import keras

        if kind == "softmax_cross_entropy":
            return keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # type: ignore[no-any-return]
        if kind == "sigmoid_cross_entropy":
            return self.runtime.sigmoid_cross_entropy()
        raise ValueError(f"unknown loss {kind!r}")

    def data_parallel(self) -> None:
        """The same model and weights rebuilt in the runtime's distribution strategy
        (TensorFlow: MultiWorkerMirroredStrategy), whose variables are mirrored on every rank
        and whose steps all-reduce gradients. BatchNormalization keeps per-rank statistics
        (its `synchronized=False` default), like PyTorch's DDP on the CPU."""
        weights = self.get_weights()
        with self.runtime.data_parallel_scope():
            self.build()
            self.set_weights(weights)

    def forward_code(self) -> CodeType | None:
        # The model's `call`, which tf.function traces into a graph.
        code: CodeType = inspect.unwrap(type(self.model).call).__code__
        return code

    def compilation_stats(self) -> dict[str, float]:
        return self.steps.compilation_stats()

    def prepare(self, *, training: bool) -> None:
        # Keras takes `training` per call; `activations` reads it from here.
        self._training = training

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        def place(array: np.ndarray) -> Any:
            if np.issubdtype(array.dtype, np.floating):
                array = array.astype(self.cell.dtype, copy=False)  # copies only to convert
            return self.runtime.place(array)

        with self.runtime.scope():
            return place(self.native_inputs(inputs)), place(labels)

    def train_step(self, batch: Any) -> Any:
        return self.steps.train(*batch)

    def infer_step(self, batch: Any) -> Any:
        return self.steps.infer(batch[0])

    def activations(self, batch: Any) -> Weights:
        # Through the mode's wrapper: in a compiled mode the check sees the compiled pass.
        self.steps.weights_current()
        return keras_layers.layer_outputs(self.model, batch[0], training=self._training,
                                          flattened=self.flattened_dense_inputs(),
                                          compile_step=self.steps.compile)

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        self.steps.weights_current()
        loss, computed = self.steps.gradients(*batch)
        variables = self.model.trainable_variables
        by_variable = dict(zip(map(id, variables), computed, strict=True))
        gradients = {
            name: slot.convert(by_variable[id(slot.variable)])  # type: ignore[arg-type]
            for name, slot in self._slots().items()
            if by_variable.get(id(slot.variable)) is not None
        }
        return loss, gradients

    def hyperparameters(self) -> dict[str, Any]:
        import keras

        optimizer = self.optimizer
        norms = [layer for layer in self.model.layers
                 if isinstance(layer, keras.layers.BatchNormalization)]
        layer_norms = [layer for layer in self.model.layers
                       if isinstance(layer, keras.layers.LayerNormalization)]
        return stated_hyperparameters(
            self.workload.loss, type(optimizer).__name__,
            # Keras keeps it in a float32 variable: 7 significant digits are all there is.
            float(f"{float(np.asarray(optimizer.learning_rate)):.7g}"),
            adam=((optimizer.epsilon, optimizer.beta_1, optimizer.beta_2)
                  if isinstance(optimizer, keras.optimizers.Adam) else None),
            # Keras keeps `momentum` of the old statistic; the new statistic's weight is 1 - it.
            batch_norm=((norms[0].epsilon, round(1.0 - norms[0].momentum, 10)) if norms
                        else None),
            layer_norm_epsilon=layer_norms[0].epsilon if layer_norms else None)

    def trainable_parameter_count(self) -> int:
        return sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)

    def _slots(self) -> dict[str, keras_layers.Slot]:
        return keras_layers.named_slots(self.model, self.flattened_dense_inputs())

    def get_weights(self) -> Weights:
        self.steps.weights_current()
        return {name: slot.read() for name, slot in self._slots().items()}

    def set_weights(self, weights: Weights) -> None:
        slots = self._slots()
        check_layout(self.cell.framework, set(slots), set(weights))
        for name, slot in slots.items():
            slot.write(weights[name])
        self.steps.weights_written()


def dense_head(features: Sequence[tuple[str, int, int]]) -> list[Any]:
    """Flatten, then (name, in, out) Dense layers with a ReLU after all but the last.

    ReLU is its own layer, as in PyTorch, so the parity check sees each Dense's own output.
    """
    import keras

    layers: list[Any] = [keras.layers.Flatten(name="flatten")]
    for index, (name, _, n_out) in enumerate(features):
        layers.append(keras.layers.Dense(n_out, name=name))
        if index < len(features) - 1:
            layers.append(keras.layers.ReLU(name=f"{name}_relu"))
    return layers


@contextlib.contextmanager
def _floatx(dtype: str) -> Iterator[None]:
    """Build Keras layers with `dtype` weights and compute (float64 for same-model checks)."""
    import keras

    saved = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(saved[0])
        keras.config.set_dtype_policy(saved[1])


class KerasImageModel(KerasModel):
    """Image models: canonical NCHW batches become NHWC, TensorFlow's fastest layout on CPU."""

    def data_layout(self) -> str:
        return "NHWC (Keras channels_last)"

    def native_inputs(self, inputs: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(inputs.transpose(0, 2, 3, 1))  # NCHW -> NHWC


@functools.cache
def _adam_with_pytorch_epsilon() -> type:
    """Keras' Adam with epsilon added where PyTorch (and the Adam paper's Algorithm 1) adds it.

    Keras divides by sqrt(v) + eps before bias correction, PyTorch by sqrt(v_hat) + eps after
    it: the same eps is then eps / sqrt(1 - beta_2^t) in PyTorch's terms, 3.2e-7 instead of
    1e-8 at step 1. With the small gradients of a deep net at initialisation that moved
    VGG-19's loss by 4.7e-3 in five steps. Scaling eps by sqrt(1 - beta_2^t) here makes the
    two optimizers the same function; it costs one multiply per variable and step.

    The betas are converted at the variable's dtype. Keras' own Adam casts them
    (`ops.cast(self.beta_2, dtype)`), and casting a Python float goes through a float32
    tensor: in float64, beta_2 = 0.999 became 0.99900001287, so the bias correction
    1 - beta_2^t no longer matched the (1 - beta_2) that v was built with, and every update
    was 6.4e-6 too large at step 1. That was the float64 Adam gap of up to 2e-6 on the
    same-model check's losses (mlp, cnn); converted, it is 2e-16. (The learning rate is a
    variable of the build-time float type, float64 in the check.)
    """
    import keras
    from keras import ops

    class Adam(keras.optimizers.Adam):  # type: ignore[misc]
        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
            lr = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            step = ops.cast(self.iterations + 1, variable.dtype)
            # Converted at the variable's dtype, not cast: see the docstring.
            beta_1_power = ops.power(ops.convert_to_tensor(self.beta_1, variable.dtype), step)
            correction_2 = ops.sqrt(
                1 - ops.power(ops.convert_to_tensor(self.beta_2, variable.dtype), step))
            m = self._momentums[self._get_variable_index(variable)]
            v = self._velocities[self._get_variable_index(variable)]
            alpha = lr * correction_2 / (1 - beta_1_power)
            # At the variable's dtype too: Keras on PyTorch turns a Python float operand into
            # a float32 tensor (its floatx), which rounded 1 - beta_1 in float64 by 1.5e-8.
            keep_1 = ops.convert_to_tensor(1 - self.beta_1, variable.dtype)
            keep_2 = ops.convert_to_tensor(1 - self.beta_2, variable.dtype)
            self.assign_add(m, ops.multiply(ops.subtract(gradient, m), keep_1))
            self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), keep_2))
            self.assign_sub(variable, ops.divide(
                ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon * correction_2)))

    return Adam

