"""Layer kinds of a plain chain, framework-free: what workloads/sequential.py describes and a
framework's chain builder (frameworks/<name>/model.py) turns into its own layers.

Every layer with weights carries its canonical prefix; feature maps are NCHW, kernels are
canonical (dense (in, out), convolution (out, in, h, w)).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Dense:
    name: str
    inputs: int
    outputs: int


@dataclass(frozen=True)
class Conv:
    name: str
    inputs: int
    outputs: int
    kernel: int
    stride: int = 1
    padding: int = 0
    bias: bool = True
    # Channel groups, each convolved on its own (kernel (out, in / groups, h, w));
    # groups == inputs == outputs is a depthwise convolution.
    groups: int = 1


@dataclass(frozen=True)
class BatchNorm:
    name: str
    channels: int


@dataclass(frozen=True)
class Relu:
    pass


@dataclass(frozen=True)
class Relu6:
    """min(max(x, 0), 6), MobileNetV2's activation."""


@dataclass(frozen=True)
class MaxPool:
    size: int
    stride: int
    padding: int = 0  # padded with -inf, as PyTorch pads


@dataclass(frozen=True)
class GlobalAveragePool:
    """(N, C, H, W) -> (N, C)."""


@dataclass(frozen=True)
class Residual:
    """body(x) + shortcut(x); an empty shortcut is the identity."""

    body: tuple[Layer, ...]
    shortcut: tuple[Layer, ...] = ()


@dataclass(frozen=True)
class Flatten:
    pass


Layer = (Dense | Conv | BatchNorm | Relu | Relu6 | MaxPool | Flatten | GlobalAveragePool
         | Residual)
WEIGHTED = (Dense, Conv, BatchNorm)


def flattened(layers: tuple[Layer, ...] | list[Layer]) -> list[Layer]:
    """Every layer, residual bodies and shortcuts included, in order."""
    found: list[Layer] = []
    for layer in layers:
        if isinstance(layer, Residual):
            found += flattened(layer.body) + flattened(layer.shortcut)
        else:
            found.append(layer)
    return found


@dataclass(frozen=True)
class Step:
    """One layer of a chain built in a framework: `built` is its callable layer (block,
    module, link or function); a residual's body and shortcut are steps of their own."""

    layer: Layer
    built: Any
    body: tuple[Step, ...] = ()
    shortcut: tuple[Step, ...] = ()


def build(layers: tuple[Layer, ...] | list[Layer], make: Callable[[Layer], Any],
          residual: Callable[[tuple[Step, ...], tuple[Step, ...]], Any]) -> tuple[Step, ...]:
    """The framework's chain: each layer made by `make`, a residual by `residual` from its
    built body and shortcut (the shortcut empty for the identity)."""
    steps = []
    for layer in layers:
        if isinstance(layer, Residual):
            body, shortcut = build(layer.body, make, residual), build(layer.shortcut, make,
                                                                        residual)
            steps.append(Step(layer, residual(body, shortcut), body, shortcut))
        else:
            steps.append(Step(layer, make(layer)))
    return tuple(steps)


def weighted(steps: tuple[Step, ...]) -> list[tuple[Layer, Any]]:
    """(layer, built) of every weighted layer in order, residual bodies and shortcuts
    included: the order of the canonical weights."""
    found: list[tuple[Layer, Any]] = []
    for step in steps:
        if isinstance(step.layer, Residual):
            found += weighted(step.body) + weighted(step.shortcut)
        elif isinstance(step.layer, WEIGHTED):
            found.append((step.layer, step.built))
    return found


# The canonical weights of each weighted layer kind, by the last part of their names.
WEIGHT_ROLES: dict[type, tuple[str, ...]] = {Dense: ("kernel", "bias"), Conv: ("kernel", "bias"),
                BatchNorm: ("gamma", "beta", "moving_mean", "moving_variance")}


def weight_slots(layers: list[tuple[Layer, Any]]) -> Iterator[tuple[str, str, Layer, Any]]:
    """(canonical name, role, layer, built) of every weight of `weighted`'s layers, in the
    canonical order; the role ("kernel", "moving_mean", ...) names the framework's own
    attribute in its chain builder."""
    for layer, built in layers:
        if not isinstance(layer, WEIGHTED):
            continue
        for role in WEIGHT_ROLES[type(layer)]:
            if role == "bias" and isinstance(layer, Conv) and not layer.bias:
                continue
            yield f"{layer.name}.{role}", role, layer, built


def run(steps: tuple[Step, ...], value: Any,
        record: Callable[[str, Any], None] | None = None) -> Any:
    """The chain's forward pass step by step, giving each weighted layer's output to
    `record`: a residual is body + shortcut, the input where the shortcut is empty."""
    for step in steps:
        if isinstance(step.layer, Residual):
            shortcut = run(step.shortcut, value, record) if step.shortcut else value
            value = run(step.body, value, record) + shortcut
            continue
        value = step.built(value)
        if record is not None and isinstance(step.layer, WEIGHTED):
            record(step.layer.name, value)
    return value


@runtime_checkable
class ChainBuilt(Protocol):
    """An implementation that is not written in its framework's API: it returns the shared
    chain of workloads/sequential.py, which its framework's model.py turns into layers."""

    def chain(self) -> list[Layer]: ...
