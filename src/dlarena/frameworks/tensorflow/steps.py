"""Keras steps on TensorFlow: a GradientTape step, in `tf.function` (and XLA) or eagerly."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlarena.frameworks._keras.backend import KerasSteps, Step


class TensorflowSteps(KerasSteps):
    def __init__(self, model: Any, optimizer: Any, loss: Step, mode: str) -> None:
        import tensorflow as tf

        super().__init__(model, optimizer, loss, mode)
        # Built in a distribution strategy's scope (KerasModel.data_parallel): each step runs
        # on this rank's shard in the strategy, gradients all-reduced by apply_gradients.
        self._strategy = tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
        self._train = self.compile(self._eager_train_step if self._strategy is None
                                   else self._distributed_train_step)
        self._infer = self.compile(self._eager_infer_step)

    def compile(self, step: Step) -> Step:
        import tensorflow as tf

        mode = self.mode
        if mode in ("function", "xla"):
            return tf.function(step, jit_compile=mode == "xla")  # type: ignore[no-any-return]
        if mode == "eager":
            return step
        raise ValueError(f"unknown TensorFlow mode {mode!r}")

    def compilation_stats(self) -> dict[str, float]:
        if self.mode == "eager":
            return {}
        # One trace per input signature is expected; more means retracing.
        functions: list[Any] = [self._train, self._infer]
        return {"traces": float(sum(f.experimental_get_tracing_count() for f in functions))}

    def _eager_train_step(self, inputs: Any, labels: Any) -> Any:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = self.loss(labels, self.model(inputs, training=True))
        variables = self.model.trainable_variables
        # Embedding gradients come as IndexedSlices that repeat a row for every repeated token;
        # Keras 3's Adam squares the repeats one by one (sum of squares, not the square of the
        # sum). Summed into a dense gradient first, as PyTorch's nn.Embedding gives it.
        gradients = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                     for g in tape.gradient(loss, variables)]
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    def _distributed_train_step(self, inputs: Any, labels: Any) -> Any:
        """As Keras' own TensorFlow trainer does it: in the replica context the loss is
        divided by the replicas in sync (Keras losses do it themselves), apply_gradients sums
        the gradients over replicas (so they are the global batch's mean), and the loss
        returned is this shard's own, undivided."""
        from keras.src.losses.loss import unscale_loss_for_distribution

        def replica_step(inputs: Any, labels: Any) -> Any:
            return unscale_loss_for_distribution(self._eager_train_step(inputs, labels))

        assert self._strategy is not None
        return self._strategy.run(replica_step, args=(inputs, labels))

    def _eager_infer_step(self, inputs: Any) -> Any:
        return self.model(inputs, training=False)

    def train(self, inputs: Any, labels: Any) -> Any:
        return self._train(inputs, labels)

    def infer(self, inputs: Any) -> Any:
        return self._infer(inputs)

    def gradients(self, inputs: Any, labels: Any) -> tuple[float, list[np.ndarray | None]]:
        import tensorflow as tf

        variables = self.model.trainable_variables

        def loss_and_gradients(inputs: Any, labels: Any) -> tuple[Any, list[Any]]:
            with tf.GradientTape() as tape:
                loss = self.loss(labels, self.model(inputs, training=True))
            # Embedding gradients come as IndexedSlices; made dense, outside any timing.
            return loss, [None if g is None else tf.convert_to_tensor(g)
                          for g in tape.gradient(loss, variables)]

        loss, computed = self.compile(loss_and_gradients)(inputs, labels)
        return float(loss), [None if g is None else np.asarray(g) for g in computed]
