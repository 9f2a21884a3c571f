"""Keras steps on JAX: stateless, as Keras' own JAX trainer and its guide write them.

`model.stateless_call` under `jax.value_and_grad`, then `optimizer.stateless_apply`; the state
(trainable and non-trainable variables, the optimizer's) is carried from step to step outside
the Keras variables, and written back into them only when the weights are read. In mode
`jit_compile` the step is one `jax.jit` (XLA) computation with the old state donated; in
`eager` it runs under `jax.disable_jit()`, one operation at a time.
"""

from __future__ import annotations

import contextlib
from typing import Any, NamedTuple

import numpy as np

from dlarena.frameworks._keras.backend import KerasSteps, Step

State = tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]


class StepOutput(NamedTuple):
    """A stateless training step's loss and the new state: timing waits for both."""

    loss: Any
    state: Any


class JaxSteps(KerasSteps):
    def __init__(self, model: Any, optimizer: Any, loss: Step, mode: str) -> None:
        import jax

        if mode not in ("jit_compile", "eager"):
            raise ValueError(f"unknown Keras-on-JAX mode {mode!r}")
        super().__init__(model, optimizer, loss, mode)
        self._jax: Any = jax

        def loss_and_updates(trainable: Any, non_trainable: Any, inputs: Any,
                             labels: Any) -> tuple[Any, Any]:
            logits, non_trainable = model.stateless_call(trainable, non_trainable, inputs,
                                                         training=True)
            return loss(labels, logits), non_trainable

        value_and_grad = jax.value_and_grad(loss_and_updates, has_aux=True)

        def train(state: State, inputs: Any, labels: Any) -> tuple[Any, State]:
            trainable, non_trainable, optimizer_variables = state
            (value, non_trainable), grads = value_and_grad(trainable, non_trainable, inputs,
                                                           labels)
            trainable, optimizer_variables = optimizer.stateless_apply(
                optimizer_variables, grads, trainable)
            return value, (tuple(trainable), tuple(non_trainable), tuple(optimizer_variables))

        def infer(trainable: Any, non_trainable: Any, inputs: Any) -> Any:
            logits, _ = model.stateless_call(trainable, non_trainable, inputs, training=False)
            return logits

        def gradients(trainable: Any, non_trainable: Any, inputs: Any,
                      labels: Any) -> tuple[Any, Any]:
            (value, _), grads = value_and_grad(trainable, non_trainable, inputs, labels)
            return value, grads

        jit = mode == "jit_compile"
        self._train: Any = jax.jit(train, donate_argnums=0) if jit else train
        self._infer: Any = jax.jit(infer) if jit else infer
        self._gradients: Any = jax.jit(gradients) if jit else gradients
        self._state: State | None = None

    def _running(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext() if self.mode == "jit_compile" else self._jax.disable_jit()

    def _current(self) -> State:
        """The state the next step starts from: the variables' values, copied (the step
        donates its input state, which must not take the variables' buffers with it)."""
        if self._state is None:
            copy = self._jax.numpy.array
            self._state = (tuple(copy(v.value) for v in self.model.trainable_variables),
                           tuple(copy(v.value) for v in self.model.non_trainable_variables),
                           tuple(copy(v.value) for v in self.optimizer.variables))
        return self._state

    def train(self, inputs: Any, labels: Any) -> Any:
        with self._running():
            loss, self._state = self._train(self._current(), inputs, labels)
        return StepOutput(loss, self._state)

    def infer(self, inputs: Any) -> Any:
        trainable, non_trainable, _ = self._current()
        with self._running():
            return self._infer(trainable, non_trainable, inputs)

    def gradients(self, inputs: Any, labels: Any) -> tuple[float, list[np.ndarray | None]]:
        trainable, non_trainable, _ = self._current()
        with self._running():
            loss, grads = self._gradients(trainable, non_trainable, inputs, labels)
        return float(loss), [np.asarray(g) for g in grads]

    def compile(self, step: Step) -> Step:
        import keras

        def unchanged(*args: Any) -> Any:
            # Layers may assign variables (BatchNorm's statistics in training mode); inside a
            # stateless scope the assignments are discarded, never leaked out of a trace.
            with keras.StatelessScope():
                return step(*args)

        wrapped = self._jax.jit(unchanged) if self.mode == "jit_compile" else unchanged

        def run(*args: Any) -> Any:
            with self._running():
                return wrapped(*args)
        return run

    def compilation_stats(self) -> dict[str, float]:
        if self.mode == "eager":
            return {}
        # One XLA compilation per input signature; more would mean recompiling.
        return {"compilations": float(sum(f._cache_size() for f in (self._train, self._infer)))}

    def weights_current(self) -> None:
        if self._state is None:
            return
        trainable, non_trainable, optimizer_variables = self._state
        for variables, values in ((self.model.trainable_variables, trainable),
                                  (self.model.non_trainable_variables, non_trainable),
                                  (self.optimizer.variables, optimizer_variables)):
            for variable, value in zip(variables, values, strict=True):
                variable.assign(value)
        self._state = None  # the next step copies them again

    def weights_written(self) -> None:
        self._state = None
