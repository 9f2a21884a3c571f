"""resnet50 in JAX (Flax Linen, NHWC). Module names follow torchvision's paths, joined by "_"."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.model import JaxImageModel, batch_norm, conv, max_pool
from dlarena.workloads.resnet50 import spec
from dlarena.workloads.resnet50.spec import WORKLOAD


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided, "v1.5") -> 1x1, plus the shortcut."""

    block: spec.Bottleneck

    @nn.compact
    def __call__(self, inputs: Any, *, training: bool) -> Any:
        block, bn = self.block, WORKLOAD.batch_norm

        def norm(name: str) -> Any:
            return batch_norm(bn, training=training, name=name)

        out = nn.relu(norm("bn1")(conv(block.width, 1, bias=False, name="conv1")(inputs)))
        out = nn.relu(norm("bn2")(conv(block.width, 3, stride=block.stride, padding=1,
                                       bias=False, name="conv2")(out)))
        out = norm("bn3")(conv(block.c_out, 1, bias=False, name="conv3")(out))
        shortcut = inputs
        if block.downsample:
            shortcut = norm("downsample_1")(conv(block.c_out, 1, stride=block.stride, bias=False,
                                                 name="downsample_0")(inputs))
        return nn.relu(out + shortcut)


class ResNet(nn.Module):
    size: str

    @nn.compact
    def __call__(self, x: Any, *, training: bool) -> Any:
        knobs = WORKLOAD.knobs(self.size)
        x = conv(knobs["width"], 7, stride=2, padding=3, bias=False, name="conv1")(x)
        x = nn.relu(batch_norm(WORKLOAD.batch_norm, training=training, name="bn1")(x))
        x = max_pool(x, 3, 2, padding=1)
        for block in WORKLOAD.blocks(self.size):
            x = Bottleneck(block, name=block.name)(x, training=training)
        x = x.mean(axis=(1, 2))
        return nn.Dense(knobs["classes"], name="fc")(x)


class Implementation(JaxImageModel):
    def build_model(self) -> Any:
        return ResNet(self.cell.size)
