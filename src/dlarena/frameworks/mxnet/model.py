"""The base class of the MXNet (Gluon) implementations: a HybridSequential built from a
framework-free chain of layers (contract/chain.py), in canonical NCHW.

Modes: `eager` runs Gluon's imperative operators one by one; `hybridize` calls
`hybridize(static_alloc=True, static_shape=True)`, so every step runs one cached graph.
"""

from __future__ import annotations

import functools
import math
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
from dlarena.frameworks.mxnet.runtime import MxnetRuntime

MODES = ("eager", "hybridize")


class GluonChain(Implementation):
    runtime: MxnetRuntime

    @abstractmethod
    def chain(self) -> list[Layer]:
        """The model's layers in order (workloads/sequential.py)."""

    def build(self) -> None:
        from mxnet import gluon

        if self.cell.mode not in MODES:
            raise ValueError(f"unknown MXNet mode {self.cell.mode!r}")
        self.dtype = self.cell.dtype
        self.steps = chain.build(self.chain(), self._block, _residual)
        self.layers = chain.weighted(self.steps)
        self.net = _sequence(self.steps)
        self.net.initialize(ctx=self.runtime.context)
        self.net.cast(self.dtype)
        if self.cell.mode == "hybridize":
            self.net.hybridize(static_alloc=True, static_shape=True)
        settings = self.optimizer_settings()
        params = self.net.collect_params()
        if isinstance(settings, SgdSettings):
            self.trainer = gluon.Trainer(params, "sgd", {"learning_rate": settings.learning_rate},
                                         kvstore=None)
        else:
            adam = _adam_with_pytorch_epsilon()(
                learning_rate=settings.learning_rate, beta1=settings.beta_1,
                beta2=settings.beta_2, epsilon=settings.epsilon)
            self.trainer = gluon.Trainer(params, adam, kvstore=None)
        if self.workload.loss != "softmax_cross_entropy":
            raise ValueError(f"the MXNet chain has no {self.workload.loss} loss")
        self.loss_block = gluon.loss.SoftmaxCrossEntropyLoss()
        self.training = True

    def _block(self, layer: Layer) -> Any:
        from mxnet.gluon import nn

        if isinstance(layer, GlobalAveragePool):
            pool = nn.HybridSequential()
            pool.add(nn.GlobalAvgPool2D(), nn.Flatten())
            return pool
        if isinstance(layer, Dense):
            return nn.Dense(layer.outputs, in_units=layer.inputs, flatten=False)
        if isinstance(layer, Conv):
            return nn.Conv2D(layer.outputs, layer.kernel, strides=layer.stride,
                             padding=layer.padding, in_channels=layer.inputs,
                             use_bias=layer.bias, groups=layer.groups)
        if isinstance(layer, BatchNorm):
            bn = self.workload.batch_norm
            # Gluon keeps `momentum` of the old statistics: 1 - PyTorch's new-stat weight.
            return nn.BatchNorm(axis=1, momentum=1 - bn.momentum, epsilon=bn.epsilon,
                                in_channels=layer.channels)
        if isinstance(layer, Relu):
            return nn.Activation("relu")
        if isinstance(layer, Relu6):
            return nn.HybridLambda(lambda F, x: F.clip(x, 0, 6))
        if isinstance(layer, MaxPool):
            return nn.MaxPool2D(pool_size=layer.size, strides=layer.stride,
                                padding=layer.padding)
        if isinstance(layer, Flatten):
            return nn.Flatten()
        raise TypeError(f"no MXNet block for {layer!r}")

    def _slots(self) -> Iterator[tuple[str, Any, bool]]:
        """(canonical name, Gluon parameter, stored transposed) for every weight."""
        for name, role, layer, block in chain.weight_slots(self.layers):
            # Gluon's dense kernel is (out, in).
            yield name, getattr(block, _ATTRIBUTES[role]), isinstance(layer, Dense) and (
                role == "kernel")

    def _mode(self) -> Any:
        from mxnet import autograd

        return autograd.train_mode() if self.training else autograd.predict_mode()

    def prepare(self, *, training: bool) -> None:
        self.training = training

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        from mxnet import nd

        context = self.runtime.context
        # Labels as the model's float type: `pick` (inside the loss) indexes with them.
        return (nd.array(inputs, ctx=context, dtype=self.dtype),
                nd.array(labels, ctx=context, dtype=self.dtype))

    def _loss(self, batch: Any) -> Any:
        from mxnet import autograd

        inputs, labels = batch
        with autograd.record(train_mode=self.training):
            loss = self.loss_block(self.net(inputs), labels).mean()
        loss.backward()
        return loss

    def train_step(self, batch: Any) -> Any:
        loss = self._loss(batch)
        self.trainer.step(1)  # the loss is already the batch mean
        return loss

    def infer_step(self, batch: Any) -> Any:
        with self._mode():
            return self.net(batch[0])

    def activations(self, batch: Any) -> Weights:
        # Block by block: in hybridize mode each child runs its own cached graph.
        outputs: Weights = {}
        with self._mode():
            chain.run(self.steps, batch[0],
                      lambda name, value: outputs.__setitem__(name, value.asnumpy()))
        return outputs

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        loss = self._loss(batch)
        gradients = {name: _read(param.grad(), transposed)
                     for name, param, transposed in self._slots() if param.grad_req != "null"}
        return float(loss.asscalar()), gradients

    def compilation_stats(self) -> dict[str, float]:
        return {}

    def hyperparameters(self) -> dict[str, Any]:
        optimizer = self.trainer._optimizer
        norms = [block._kwargs for layer, block in self.layers if isinstance(layer, BatchNorm)]
        return stated_hyperparameters(
            self.workload.loss, type(optimizer).__name__, optimizer.learning_rate,
            adam=((optimizer.epsilon, optimizer.beta1, optimizer.beta2)
                  if hasattr(optimizer, "epsilon") else None),
            batch_norm=(norms[0]["eps"], 1 - norms[0]["momentum"]) if norms else None)

    def data_layout(self) -> str:
        return "NCHW" if any(isinstance(layer, Conv) for layer, _ in self.layers) else \
            "contiguous"

    def trainable_parameter_count(self) -> int:
        return sum(int(param.data().size) for param in self.net.collect_params().values()
                   if param.grad_req != "null")

    def get_weights(self) -> Weights:
        return {name: _read(param.data(), transposed)
                for name, param, transposed in self._slots()}

    def set_weights(self, weights: Weights) -> None:
        from mxnet import nd

        slots = list(self._slots())
        check_layout("mxnet", {name for name, _, _ in slots}, set(weights))
        for name, param, transposed in slots:
            value = np.asarray(weights[name])
            param.set_data(nd.array(value.T if transposed else value, dtype=self.dtype,
                                    ctx=self.runtime.context))


def _sequence(steps: tuple[chain.Step, ...]) -> Any:
    from mxnet import gluon

    sequence = gluon.nn.HybridSequential()
    for step in steps:
        sequence.add(step.built)
    return sequence


def _residual(body: tuple[chain.Step, ...], shortcut: tuple[chain.Step, ...]) -> Any:
    return _residual_block()(_sequence(body), _sequence(shortcut) if shortcut else None)


@functools.cache
def _residual_block() -> type:
    """body(x) + shortcut(x), the shortcut the identity when None."""
    from mxnet import gluon

    class ResidualBlock(gluon.HybridBlock):  # type: ignore[misc]
        def __init__(self, body: Any, shortcut: Any) -> None:
            super().__init__()
            self.body = body
            self.shortcut = shortcut

        def hybrid_forward(self, F: Any, x: Any) -> Any:
            return self.body(x) + (x if self.shortcut is None else self.shortcut(x))

    return ResidualBlock


# Gluon's name of each canonical weight role (contract/chain.py's WEIGHT_ROLES).
_ATTRIBUTES = {"kernel": "weight", "bias": "bias", "gamma": "gamma", "beta": "beta",
               "moving_mean": "running_mean", "moving_variance": "running_var"}


def _read(array: Any, transposed: bool) -> np.ndarray:
    value = array.asnumpy()
    return np.ascontiguousarray(value.T) if transposed else value


@functools.cache
def _adam_with_pytorch_epsilon() -> type:
    """MXNet's Adam with PyTorch's epsilon placement (on the bias-corrected sqrt(v)).

    MXNet's fused `adam_update`, like Keras, divides by sqrt(v) + eps and folds the bias
    corrections into the learning rate; with c = sqrt(1 - beta_2^t), PyTorch's step
    lr / (1 - beta_1^t) * m / (sqrt(v) / c + eps) is the fused operator's with learning rate
    lr * c / (1 - beta_1^t) and epsilon eps * c, which is what float32 weights (every timed
    cell) get: one operator per weight. It takes lr, the betas and eps as float32 operator
    attributes, though: in float64, beta_2 = 0.999 becomes 0.99900001287, which parted the
    same-model check's mlp Adam losses from PyTorch's at step 2 by 8.9e-7. So float64 weights
    (the check) get the same update written out in NDArray operations in their own dtype,
    which agrees with torch.optim.Adam to float64 rounding. In float32 the attributes are the
    values the weights' arithmetic uses anyway; a test holds both paths to a float64
    reference of PyTorch's Adam (docs/old-frameworks.md).
    """
    import mxnet

    class Adam(mxnet.optimizer.Adam):  # type: ignore[misc]
        def update(self, index: Any, weight: Any, grad: Any, state: Any) -> None:
            if self.rescale_grad != 1 or self._get_wd(index) != 0 or self.clip_gradient:
                raise ValueError("dlarena's MXNet Adam has no rescaling, decay or clipping")
            self._update_count(index)
            step = self._index_update_count[index]
            step_size = self._get_lr(index) / (1 - self.beta1**step)
            root_correction = math.sqrt(1 - self.beta2**step)
            mean, var = state
            if weight.dtype == np.float32:
                mxnet.nd.adam_update(weight, grad, mean, var, out=weight,
                                     lr=step_size * root_correction, beta1=self.beta1,
                                     beta2=self.beta2, epsilon=self.epsilon * root_correction,
                                     wd=0.0, rescale_grad=1.0, lazy_update=False)
                return
            mean[:] = mean * self.beta1 + grad * (1 - self.beta1)
            var[:] = var * self.beta2 + grad * grad * (1 - self.beta2)
            weight[:] = weight - mean * step_size / (
                mxnet.nd.sqrt(var) / root_correction + self.epsilon)

    return Adam
