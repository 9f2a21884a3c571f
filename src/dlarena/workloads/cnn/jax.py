"""cnn in JAX (Flax Linen, NHWC)."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.model import JaxImageModel, batch_norm, conv, max_pool
from dlarena.workloads.cnn.spec import CLASSES, CONVS, WORKLOAD


class Cnn(nn.Module):
    size: str

    @nn.compact
    def __call__(self, x: Any, *, training: bool) -> Any:
        for index, (name, (_, c_out)) in enumerate(
                zip(CONVS, WORKLOAD.conv_channels(self.size), strict=True)):
            x = conv(c_out, 3, padding=1, bias=False, name=name)(x)
            x = nn.relu(batch_norm(WORKLOAD.batch_norm, training=training, name=f"{name}_bn")(x))
            if index % 2 == 1:
                x = max_pool(x, 2, 2)
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(nn.Dense(WORKLOAD.knobs(self.size)["hidden"], name="fc1")(x))
        return nn.Dense(CLASSES, name="out")(x)


class Implementation(JaxImageModel):
    def build_model(self) -> Any:
        return Cnn(self.cell.size)

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        return {"fc1": WORKLOAD.flatten_shape(self.cell.size)}
