"""mlp in JAX (Flax Linen)."""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from dlarena.frameworks.jax.model import JaxModel
from dlarena.workloads.mlp.spec import CLASSES, HIDDEN


class Mlp(nn.Module):
    @nn.compact
    def __call__(self, inputs: Any, *, training: bool) -> Any:
        x = nn.relu(nn.Dense(HIDDEN[0], name="dense1")(inputs))
        x = nn.relu(nn.Dense(HIDDEN[1], name="dense2")(x))
        return nn.Dense(CLASSES, name="out")(x)


class Implementation(JaxModel):
    def build_model(self) -> Any:
        return Mlp()
