"""The base class of the PaddlePaddle implementations: a paddle.nn.Sequential built from a
framework-free list of layers (contract/chain.py), in canonical NCHW.

Modes: `eager` is Paddle's dynamic graph; `to_static` converts the model's forward with
`paddle.jit.to_static(full_graph=True)`, so steps run a static program (the backward too).
"""

from __future__ import annotations

import functools
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlarena.contract import (
    Implementation,
    SgdSettings,
    Weights,
    chain,
    check_layout,
    stated_hyperparameters,
)
from dlarena.contract.chain import (
    BatchNorm,
    Conv,
    Dense,
    Flatten,
    GlobalAveragePool,
    Layer,
    MaxPool,
    Relu,
    Relu6,
)
from dlarena.frameworks.paddle.runtime import PaddleRuntime

MODES = ("eager", "to_static")


# Paddle's name of each canonical weight role (contract/chain.py's WEIGHT_ROLES).
_ATTRIBUTES = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias",
               "moving_mean": "_mean", "moving_variance": "_variance"}


class PaddleChain(Implementation):
    runtime: PaddleRuntime

    @abstractmethod
    def chain(self) -> list[Layer]:
        """The model's layers in order (workloads/sequential.py)."""

    def build(self) -> None:
        import paddle

        if self.cell.mode not in MODES:
            raise ValueError(f"unknown PaddlePaddle mode {self.cell.mode!r}")
        self.dtype = self.cell.dtype
        paddle.set_default_dtype(self.dtype)  # the layers' parameters are created in it
        self.steps = chain.build(self.chain(), self._layer, _residual)
        self.layers = chain.weighted(self.steps)
        self.model = paddle.nn.Sequential(*[step.built for step in self.steps])
        self.forward = (paddle.jit.to_static(self.model, full_graph=True)
                        if self.cell.mode == "to_static" else self.model)
        settings = self.optimizer_settings()
        parameters = self.model.parameters()
        if isinstance(settings, SgdSettings):
            self.optimizer = paddle.optimizer.SGD(learning_rate=settings.learning_rate,
                                                  parameters=parameters)
        else:
            # Paddle adds epsilon * sqrt(1 - beta_2^t) to sqrt(v): PyTorch's placement.
            self.optimizer = paddle.optimizer.Adam(
                learning_rate=settings.learning_rate, beta1=settings.beta_1,
                beta2=settings.beta_2, epsilon=settings.epsilon, parameters=parameters)
        if self.workload.loss != "softmax_cross_entropy":
            raise ValueError(f"the PaddlePaddle chain has no {self.workload.loss} loss")

    def _layer(self, layer: Layer) -> Any:
        from paddle import nn

        if isinstance(layer, GlobalAveragePool):
            return nn.Sequential(nn.AdaptiveAvgPool2D(1), nn.Flatten())
        if isinstance(layer, Dense):
            return nn.Linear(layer.inputs, layer.outputs)
        if isinstance(layer, Conv):
            return nn.Conv2D(layer.inputs, layer.outputs, layer.kernel, stride=layer.stride,
                             padding=layer.padding, groups=layer.groups,
                             bias_attr=None if layer.bias else False)
        if isinstance(layer, BatchNorm):
            bn = self.workload.batch_norm
            # Paddle's `momentum` keeps the old statistics: 1 - PyTorch's new-stat weight.
            return nn.BatchNorm2D(layer.channels, momentum=1 - bn.momentum,
                                  epsilon=bn.epsilon)
        if isinstance(layer, Relu):
            return nn.ReLU()
        if isinstance(layer, Relu6):
            return nn.ReLU6()
        if isinstance(layer, MaxPool):
            return nn.MaxPool2D(layer.size, stride=layer.stride, padding=layer.padding)
        if isinstance(layer, Flatten):
            return nn.Flatten()
        raise TypeError(f"no PaddlePaddle layer for {layer!r}")

    def _slots(self) -> Iterator[tuple[str, Any]]:
        """(canonical name, Paddle tensor) for every weight; Paddle's dense kernel is
        (in, out), as the canonical one."""
        for name, role, _, module in chain.weight_slots(self.layers):
            yield name, getattr(module, _ATTRIBUTES[role])

    def prepare(self, *, training: bool) -> None:
        self.model.train() if training else self.model.eval()

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        import paddle

        return paddle.to_tensor(inputs.astype(self.dtype)), paddle.to_tensor(labels)

    def _loss(self, batch: Any) -> Any:
        from paddle.nn import functional

        inputs, labels = batch
        loss = functional.cross_entropy(self.forward(inputs), labels)
        loss.backward()
        return loss

    def train_step(self, batch: Any) -> Any:
        loss = self._loss(batch)
        self.optimizer.step()
        self.optimizer.clear_grad()
        return loss

    def infer_step(self, batch: Any) -> Any:
        import paddle

        with paddle.no_grad():
            return self.forward(batch[0])

    def activations(self, batch: Any) -> Weights:
        import paddle

        # Layer by layer, in the dynamic graph: to_static converts the whole forward only.
        outputs: Weights = {}
        with paddle.no_grad():
            chain.run(self.steps, batch[0],
                      lambda name, value: outputs.__setitem__(name, value.numpy()))
        return outputs

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        self.optimizer.clear_grad()
        loss = self._loss(batch)
        gradients = {name: tensor.grad.numpy() for name, tensor in self._slots()
                     if not tensor.stop_gradient and tensor.grad is not None}
        return float(loss.item()), gradients

    def compilation_stats(self) -> dict[str, float]:
        return {}

    def hyperparameters(self) -> dict[str, Any]:
        optimizer = self.optimizer
        norms = [module for layer, module in self.layers if isinstance(layer, BatchNorm)]
        return stated_hyperparameters(
            self.workload.loss, type(optimizer).__name__, optimizer.get_lr(),
            adam=((optimizer._epsilon, optimizer._beta1, optimizer._beta2)
                  if hasattr(optimizer, "_beta1") else None),
            batch_norm=(norms[0]._epsilon, 1 - norms[0]._momentum) if norms else None)

    def data_layout(self) -> str:
        return "NCHW" if any(isinstance(layer, Conv) for layer, _ in self.layers) else \
            "contiguous"

    def trainable_parameter_count(self) -> int:
        return sum(int(np.prod(p.shape)) for p in self.model.parameters()
                   if not p.stop_gradient)

    def get_weights(self) -> Weights:
        return {name: np.array(tensor.numpy()) for name, tensor in self._slots()}

    def set_weights(self, weights: Weights) -> None:
        slots = list(self._slots())
        check_layout("paddle", {name for name, _ in slots}, set(weights))
        for name, tensor in slots:
            tensor.set_value(np.asarray(weights[name], dtype=self.dtype))


def _residual(body: tuple[chain.Step, ...], shortcut: tuple[chain.Step, ...]) -> Any:
    from paddle import nn

    return _residual_layer()(nn.Sequential(*[step.built for step in body]),
                             nn.Sequential(*[step.built for step in shortcut])
                             if shortcut else None)


@functools.cache
def _residual_layer() -> type:
    """body(x) + shortcut(x), the shortcut the identity when None."""
    from paddle import nn

    class ResidualLayer(nn.Layer):  # type: ignore[misc]
        def __init__(self, body: Any, shortcut: Any) -> None:
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def forward(self, x: Any) -> Any:
            return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

    return ResidualLayer
