"""Keras steps on PyTorch, as Keras' own torch trainer writes them.

Forward, `model.zero_grad()`, `loss.backward()`, then `optimizer.apply` under
`torch.no_grad()`. In mode `jit_compile` the whole step is wrapped in `torch.compile`, which
is what `model.compile(jit_compile=True)` does on this backend; `eager` runs it op by op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlarena.frameworks._keras.backend import KerasSteps, Step


class TorchSteps(KerasSteps):
    def __init__(self, model: Any, optimizer: Any, loss: Step, mode: str) -> None:
        import torch

        if mode not in ("eager", "jit_compile"):
            raise ValueError(f"unknown Keras-on-torch mode {mode!r}")
        super().__init__(model, optimizer, loss, mode)
        self._torch: Any = torch
        self._train = self.compile(self._eager_train_step)
        self._infer = self.compile(self._eager_infer_step)
        self._gradients = self.compile(self._eager_gradients)

    def compile(self, step: Step) -> Step:
        if self.mode == "jit_compile":
            compiled: Step = self._torch.compile(step)
            return compiled
        return step

    def _backward(self, inputs: Any, labels: Any) -> Any:
        loss = self.loss(labels, self.model(inputs, training=True))
        self.model.zero_grad()
        loss.backward()
        return loss

    def _eager_train_step(self, inputs: Any, labels: Any) -> Any:
        loss = self._backward(inputs, labels)
        variables = self.model.trainable_variables
        with self._torch.no_grad():
            self.optimizer.apply([v.value.grad for v in variables], variables)
        return loss

    def _eager_infer_step(self, inputs: Any) -> Any:
        with self._torch.no_grad():
            return self.model(inputs, training=False)

    def _eager_gradients(self, inputs: Any, labels: Any) -> tuple[Any, list[Any]]:
        loss = self._backward(inputs, labels)
        return loss, [v.value.grad for v in self.model.trainable_variables]

    def train(self, inputs: Any, labels: Any) -> Any:
        return self._train(inputs, labels)

    def infer(self, inputs: Any) -> Any:
        return self._infer(inputs)

    def gradients(self, inputs: Any, labels: Any) -> tuple[float, list[np.ndarray | None]]:
        loss, grads = self._gradients(inputs, labels)
        return float(loss.detach().item()), [
            None if g is None else g.detach().cpu().numpy() for g in grads]

    def compilation_stats(self) -> dict[str, float]:
        if self.mode == "eager":
            return {}
        from torch._dynamo.utils import counters

        return {"compiled_graphs": float(counters["stats"]["unique_graphs"])}
