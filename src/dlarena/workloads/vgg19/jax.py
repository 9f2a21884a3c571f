"""vgg19 in JAX (Flax Linen, NHWC)."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.model import JaxImageModel, conv, dense_head, max_pool
from dlarena.workloads.vgg19.spec import WORKLOAD


class Vgg19(nn.Module):
    size: str

    @nn.compact
    def __call__(self, x: Any, *, training: bool) -> Any:
        for name, _, c_out, _, pooled in WORKLOAD.convs(self.size):
            x = nn.relu(conv(c_out, 3, padding=1, name=name)(x))
            if pooled:
                x = max_pool(x, 2, 2)
        return dense_head(WORKLOAD.dense_features(self.size))(x)


class Implementation(JaxImageModel):
    def build_model(self) -> Any:
        return Vgg19(self.cell.size)

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        return {WORKLOAD.HIDDEN[0]: WORKLOAD.flatten_shape(self.cell.size)}
