"""alexnet in JAX (Flax Linen, NHWC)."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.model import JaxImageModel, conv, dense_head, max_pool
from dlarena.workloads.alexnet.spec import CONVS, WORKLOAD


class AlexNet(nn.Module):
    size: str

    @nn.compact
    def __call__(self, x: Any, *, training: bool) -> Any:
        for (name, kernel, stride, padding, pooled), (_, c_out) in zip(
                CONVS, WORKLOAD.conv_channels(self.size), strict=True):
            x = nn.relu(conv(c_out, kernel, stride=stride, padding=padding, name=name)(x))
            if pooled:
                x = max_pool(x, 3, 2)
        return dense_head(WORKLOAD.dense_features(self.size))(x)


class Implementation(JaxImageModel):
    def build_model(self) -> Any:
        return AlexNet(self.cell.size)

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        return {WORKLOAD.HIDDEN[0]: WORKLOAD.flatten_shape(self.cell.size)}
