"""The base class of the Chainer implementations: a chain of links and functions built from
a framework-free list of layers (contract/chain.py), in canonical NCHW. Define-by-run only.
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
from dlarena.frameworks.chainer.runtime import ChainerRuntime


class ChainerChain(Implementation):
    runtime: ChainerRuntime

    @abstractmethod
    def chain(self) -> list[Layer]:
        """The model's layers in order (workloads/sequential.py)."""

    def build(self) -> None:
        import chainer

        if self.cell.mode != "eager":
            raise ValueError(f"unknown Chainer mode {self.cell.mode!r}")
        self.dtype = np.dtype(self.cell.dtype)
        chainer.global_config.dtype = self.dtype  # the links' parameters are created in it
        # A residual runs its steps' links and functions (chain.run): nothing to build.
        self.steps = chain.build(self.chain(), self._step, lambda body, shortcut: None)
        self.layers = chain.weighted(self.steps)
        self.links = chainer.ChainList(*[link for _, link in self.layers])
        settings = self.optimizer_settings()
        if isinstance(settings, SgdSettings):
            self.optimizer = chainer.optimizers.SGD(lr=settings.learning_rate)
        else:
            self.optimizer = _adam_with_pytorch_epsilon()(
                alpha=settings.learning_rate, beta1=settings.beta_1, beta2=settings.beta_2,
                eps=settings.epsilon)
        self.optimizer.setup(self.links)
        if self.workload.loss != "softmax_cross_entropy":
            raise ValueError(f"the Chainer chain has no {self.workload.loss} loss")
        self.training = True

    def _step(self, layer: Layer) -> Any:
        import chainer.functions as F
        import chainer.links as L

        if isinstance(layer, GlobalAveragePool):
            return lambda value: F.average(value, axis=(2, 3))
        if isinstance(layer, Dense):
            return L.Linear(layer.inputs, layer.outputs)
        if isinstance(layer, Conv):
            return L.Convolution2D(
                layer.inputs, layer.outputs, layer.kernel, stride=layer.stride,
                pad=layer.padding, nobias=not layer.bias, groups=layer.groups)
        if isinstance(layer, BatchNorm):
            bn = self.workload.batch_norm
            # Chainer's `decay` keeps the old statistics: 1 - PyTorch's new-stat weight.
            return L.BatchNormalization(
                layer.channels, decay=1 - bn.momentum, eps=bn.epsilon, dtype=self.dtype)
        if isinstance(layer, Relu):
            return F.relu
        if isinstance(layer, Relu6):
            return functools.partial(F.clipped_relu, z=6.0)
        if isinstance(layer, MaxPool):
            # cover_all=False: floor the output size, as PyTorch and Keras do.
            return functools.partial(F.max_pooling_2d, ksize=layer.size, stride=layer.stride,
                                     pad=layer.padding, cover_all=False)
        if isinstance(layer, Flatten):
            return lambda value: F.reshape(value, (value.shape[0], -1))
        raise TypeError(f"no Chainer link for {layer!r}")

    def _slots(self) -> Iterator[tuple[str, Any, str, bool]]:
        """(canonical name, link, attribute, stored transposed) for every weight."""
        for name, role, layer, link in chain.weight_slots(self.layers):
            # Chainer's dense kernel is (out, in).
            yield name, link, _ATTRIBUTES[role], isinstance(layer, Dense) and role == "kernel"

    def prepare(self, *, training: bool) -> None:
        self.training = training

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        return inputs.astype(self.dtype), labels.astype(np.int32)  # Chainer's label type

    def _loss(self, batch: Any) -> Any:
        import chainer
        import chainer.functions as F

        inputs, labels = batch
        with chainer.using_config("train", self.training):
            loss = F.softmax_cross_entropy(chain.run(self.steps, inputs), labels)
        self.links.cleargrads()
        loss.backward()
        return loss

    def train_step(self, batch: Any) -> Any:
        loss = self._loss(batch)
        self.optimizer.update()
        return loss

    def infer_step(self, batch: Any) -> Any:
        import chainer

        with chainer.using_config("train", self.training), chainer.no_backprop_mode():
            return chain.run(self.steps, batch[0])

    def activations(self, batch: Any) -> Weights:
        import chainer

        outputs: Weights = {}
        with chainer.using_config("train", self.training), chainer.no_backprop_mode():
            chain.run(self.steps, batch[0], lambda name, value: outputs.__setitem__(
                name, np.array(value.array)))
        return outputs

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        loss = self._loss(batch)
        gradients: Weights = {}
        for name, link, attribute, transposed in self._slots():
            param = getattr(link, attribute)
            if hasattr(param, "grad") and param.grad is not None:
                gradients[name] = _read(param.grad, transposed)
        return float(loss.array), gradients

    def compilation_stats(self) -> dict[str, float]:
        return {}  # define-by-run: nothing is compiled

    def hyperparameters(self) -> dict[str, Any]:
        hp = self.optimizer.hyperparam
        adam = hasattr(hp, "eps")
        norms = [link for layer, link in self.layers if isinstance(layer, BatchNorm)]
        return stated_hyperparameters(
            self.workload.loss, type(self.optimizer).__name__, hp.alpha if adam else hp.lr,
            adam=(hp.eps, hp.beta1, hp.beta2) if adam else None,
            batch_norm=(norms[0].eps, 1 - norms[0].decay) if norms else None)

    def data_layout(self) -> str:
        return "NCHW" if any(isinstance(layer, Conv) for layer, _ in self.layers) else \
            "contiguous"

    def trainable_parameter_count(self) -> int:
        return sum(int(param.size) for param in self.links.params())

    def get_weights(self) -> Weights:
        return {name: _read(_array(getattr(link, attribute)), transposed)
                for name, link, attribute, transposed in self._slots()}

    def set_weights(self, weights: Weights) -> None:
        slots = list(self._slots())
        check_layout("chainer", {name for name, *_ in slots}, set(weights))
        for name, link, attribute, transposed in slots:
            value = np.asarray(weights[name], dtype=self.dtype)
            _array(getattr(link, attribute))[...] = value.T if transposed else value


def _array(value: Any) -> np.ndarray:
    """A parameter's array, or the array itself (BatchNorm's running statistics)."""
    return value.array if hasattr(value, "array") else value  # type: ignore[no-any-return]


# Chainer's name of each canonical weight role (contract/chain.py's WEIGHT_ROLES).
_ATTRIBUTES = {"kernel": "W", "bias": "b", "gamma": "gamma", "beta": "beta",
               "moving_mean": "avg_mean", "moving_variance": "avg_var"}


def _read(array: np.ndarray, transposed: bool) -> np.ndarray:
    return np.ascontiguousarray(array.T) if transposed else np.array(array)


@functools.cache
def _adam_with_pytorch_epsilon() -> type:
    """Chainer's Adam with epsilon added where PyTorch (and the Adam paper) adds it.

    Chainer, like Keras and MXNet, divides by sqrt(v) + eps and folds the bias corrections
    into the step size; scaling eps by sqrt(1 - beta_2^t) each step makes it PyTorch's
    function (see frameworks/_keras/model.py).
    """
    from chainer import optimizers
    from chainer.optimizers import adam

    class Rule(adam.AdamRule):  # type: ignore[misc]
        def update_core(self, param: Any) -> None:
            base = self._pytorch_eps
            self.hyperparam.eps = base * math.sqrt(1 - self.hyperparam.beta2**self.t)
            try:
                super().update_core(param)
            finally:
                self.hyperparam.eps = base

    class Adam(optimizers.Adam):  # type: ignore[misc]
        def create_update_rule(self) -> Any:
            rule = Rule(self.hyperparam)
            rule._pytorch_eps = self.hyperparam.eps
            return rule

    return Adam
