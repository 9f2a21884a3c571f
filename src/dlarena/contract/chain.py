"""Layer kinds of a plain chain, framework-free: what workloads/sequential.py describes and a
framework's chain builder (frameworks/<name>/model.py) turns into its own layers.

Every layer with weights carries its canonical prefix; feature maps are NCHW, kernels are
canonical (dense (in, out), convolution (out, in, h, w)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class ChainBuilt(Protocol):
    """An implementation that is not written in its framework's API: it returns the shared
    chain of workloads/sequential.py, which its framework's model.py turns into layers."""

    def chain(self) -> list[Layer]: ...
