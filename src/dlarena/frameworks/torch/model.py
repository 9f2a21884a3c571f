"""The base class of every PyTorch implementation, and helpers they share."""

from __future__ import annotations

import inspect
from abc import abstractmethod
from collections.abc import Callable, Sequence
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
from dlarena.frameworks.torch import layouts as torch_layers
from dlarena.frameworks.torch.runtime import TorchRuntime

# torch.compile's mode argument for each compiled mode.
_COMPILE_MODES = {"compile": "default", "compile-max-autotune": "max-autotune-no-cudagraphs"}


class TorchModel(Implementation):
    """Build with `build_model`; modules are named after the canonical weight prefixes.

    The model takes the canonical input batch as one tensor and returns logits: class
    scores on the last axis (softmax cross-entropy) or one score per label (sigmoid).
    """

    runtime: TorchRuntime

    @abstractmethod
    def build_model(self) -> Any:
        """An `nn.Module` whose layer paths are the canonical prefixes (layouts.torch_layers)."""

    @abstractmethod
    def channels_last(self) -> bool:
        """Image models: keep NCHW tensors in NHWC memory order.

        The fairness rules give each framework its fastest layout; on this kind of CPU,
        channels_last trained the cnn 1.4x and ran inference 1.6x faster than contiguous NCHW.
        """

    def data_layout(self) -> str:
        return "NCHW tensors, channels_last memory" if self.channels_last() else "contiguous"

    def build(self) -> None:
        import torch

        settings = self.optimizer_settings()
        self.dtype = getattr(torch, self.cell.dtype)
        self.model = self.build_model().to(self.runtime.torch_device, dtype=self.dtype)
        if self.channels_last():
            self.model = self.model.to(memory_format=torch.channels_last)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer: torch.optim.Optimizer
        if isinstance(settings, SgdSettings):
            self.optimizer = torch.optim.SGD(trainable, lr=settings.learning_rate)
        else:
            self.optimizer = torch.optim.Adam(
                trainable,
                lr=settings.learning_rate,
                betas=(settings.beta_1, settings.beta_2),
                eps=settings.epsilon,
            )
        self.loss_fn = _loss(self.workload.loss)
        # Steps call `forward`: the module itself in eager mode, its compiled form otherwise.
        mode = self.cell.mode
        if mode == "eager":
            self.forward = self.model
        elif mode in _COMPILE_MODES:
            self.forward = torch.compile(self.model, mode=_COMPILE_MODES[mode])
        else:
            raise ValueError(f"unknown PyTorch mode {mode!r}")

    def forward_code(self) -> CodeType | None:
        # The module's own `forward`, which `torch.compile` traces and replaces.
        code: CodeType = inspect.unwrap(type(self.model).forward).__code__
        return code

    def data_parallel(self) -> None:
        """DistributedDataParallel: gradients all-reduced (averaged) in buckets during the
        backward pass. On the CPU BatchNorm keeps per-process statistics (SyncBatchNorm needs
        a GPU), so a model with BatchNorm is not the global batch's model there."""
        import torch
        from torch.nn.parallel import DistributedDataParallel

        wrapped = DistributedDataParallel(self.model)
        mode = self.cell.mode
        self.forward = (wrapped if mode == "eager"
                        else torch.compile(wrapped, mode=_COMPILE_MODES[mode]))

    def compilation_stats(self) -> dict[str, float]:
        if self.cell.mode == "eager":
            return {}
        from torch._dynamo.utils import counters

        return {
            "compiled_graphs": float(counters["stats"]["unique_graphs"]),
            "graph_breaks": float(sum(counters["graph_break"].values())),
        }

    def prepare(self, *, training: bool) -> None:
        self.model.train(training)

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        import torch

        device = self.runtime.torch_device

        def place(array: np.ndarray) -> Any:
            tensor = torch.from_numpy(array).to(device)
            return tensor.to(self.dtype) if tensor.is_floating_point() else tensor

        tensor = place(inputs)
        if self.channels_last():
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor, place(labels)

    def train_step(self, batch: Any) -> Any:
        inputs, labels = batch
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.forward(inputs), labels)
        loss.backward()
        self.optimizer.step()
        return loss

    def infer_step(self, batch: Any) -> Any:
        import torch

        with torch.inference_mode():
            return self.forward(batch[0])

    def activations(self, batch: Any) -> Weights:
        import torch

        # Through `forward`: in a compiled mode the check sees the compiled pass.
        with torch.no_grad():
            return torch_layers.layer_outputs(self.model, lambda: self.forward(batch[0]))

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        inputs, labels = batch
        self.model.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.forward(inputs), labels)
        loss.backward()
        gradients = {}
        for name, slot in torch_layers.named_slots(self.model).items():
            gradient = slot.read_gradient()
            if gradient is not None:
                gradients[name] = gradient
        return float(loss.item()), gradients

    def hyperparameters(self) -> dict[str, Any]:
        from torch import nn

        defaults = self.optimizer.defaults
        norms = [m for m in self.model.modules() if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)]
        layer_norms = [m for m in self.model.modules() if isinstance(m, nn.LayerNorm)]
        return stated_hyperparameters(
            self.workload.loss, type(self.optimizer).__name__, defaults["lr"],
            adam=(defaults["eps"], *defaults["betas"]) if "eps" in defaults else None,
            batch_norm=(norms[0].eps, norms[0].momentum) if norms else None,
            layer_norm_epsilon=layer_norms[0].eps if layer_norms else None)

    def trainable_parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def get_weights(self) -> Weights:
        return {name: slot.read() for name, slot in torch_layers.named_slots(self.model).items()}

    def set_weights(self, weights: Weights) -> None:
        slots = torch_layers.named_slots(self.model)
        check_layout("torch", set(slots), set(weights))
        for name, slot in slots.items():
            slot.write(weights[name])


def dense_head(features: Sequence[tuple[str, int, int]]) -> list[tuple[str, Any]]:
    """Flatten, then (name, in, out) Linear layers with a ReLU after all but the last."""
    from torch import nn

    layers: list[tuple[str, Any]] = [("flatten", nn.Flatten())]
    for index, (name, n_in, n_out) in enumerate(features):
        layers.append((name, nn.Linear(n_in, n_out)))
        if index < len(features) - 1:
            layers.append((f"{name}_relu", nn.ReLU()))
    return layers


def _loss(kind: str) -> Callable[[Any, Any], Any]:
    """The workload's loss, averaged over every label (tokens included)."""
    from torch.nn import functional

    if kind == "softmax_cross_entropy":
        def softmax(logits: Any, labels: Any) -> Any:
            return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                            labels.reshape(-1))
        return softmax
    if kind == "sigmoid_cross_entropy":
        def sigmoid(logits: Any, labels: Any) -> Any:
            return functional.binary_cross_entropy_with_logits(logits.reshape(labels.shape),
                                                              labels)
        return sigmoid
    raise ValueError(f"unknown loss {kind!r}")
