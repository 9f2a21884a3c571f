"""mobilenet_v2 in JAX (Flax Linen, NHWC): depthwise convolutions as grouped ones."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.model import JaxImageModel, batch_norm, conv
from dlarena.workloads.mobilenet_v2 import spec
from dlarena.workloads.mobilenet_v2.spec import WORKLOAD


class InvertedResidual(nn.Module):
    """Expand 1x1 -> depthwise 3x3 -> project 1x1 (linear), plus the input where shapes allow."""

    block: spec.InvertedResidual

    @nn.compact
    def __call__(self, inputs: Any, *, training: bool) -> Any:
        block, bn = self.block, WORKLOAD.batch_norm

        def norm(name: str) -> Any:
            return batch_norm(bn, training=training, name=name)

        out = inputs
        if block.expand:
            out = nn.relu6(norm("expand_bn")(conv(block.hidden, 1, bias=False,
                                                  name="expand")(out)))
        out = nn.relu6(norm("depthwise_bn")(conv(block.hidden, 3, stride=block.stride, padding=1,
                                                 bias=False, groups=block.hidden,
                                                 name="depthwise")(out)))
        out = norm("project_bn")(conv(block.c_out, 1, bias=False, name="project")(out))
        return out + inputs if block.residual else out


class MobileNetV2(nn.Module):
    size: str

    @nn.compact
    def __call__(self, x: Any, *, training: bool) -> Any:
        bn, knobs = WORKLOAD.batch_norm, WORKLOAD.knobs(self.size)
        stem, _ = WORKLOAD.stem(self.size)
        x = conv(stem, 3, stride=2, padding=1, bias=False, name="stem")(x)
        x = nn.relu6(batch_norm(bn, training=training, name="stem_bn")(x))
        for block in WORKLOAD.blocks(self.size):
            x = InvertedResidual(block, name=block.name)(x, training=training)
        x = conv(knobs["last_channels"], 1, bias=False, name="head")(x)
        x = nn.relu6(batch_norm(bn, training=training, name="head_bn")(x))
        return nn.Dense(knobs["classes"], name="classifier")(x.mean(axis=(1, 2)))


class Implementation(JaxImageModel):
    def build_model(self) -> Any:
        return MobileNetV2(self.cell.size)
