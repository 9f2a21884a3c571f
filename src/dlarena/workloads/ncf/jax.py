"""ncf in JAX (Flax Linen): the GMF and MLP towers side by side."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from dlarena.frameworks.jax.model import JaxModel
from dlarena.workloads.ncf.spec import WORKLOAD


class NeuMF(nn.Module):
    size: str

    @nn.compact
    def __call__(self, pairs: Any, *, training: bool) -> Any:
        knobs = WORKLOAD.knobs(self.size)
        users, items, factors, layers = (knobs[k] for k in ("users", "items", "factors",
                                                            "layers"))
        user, item = pairs[:, 0], pairs[:, 1]
        gmf = (nn.Embed(users, factors, name="gmf_user")(user)
               * nn.Embed(items, factors, name="gmf_item")(item))
        hidden = jnp.concatenate([nn.Embed(users, layers[0] // 2, name="mlp_user")(user),
                                  nn.Embed(items, layers[0] // 2, name="mlp_item")(item)], axis=1)
        for index, (_, fan_out) in enumerate(WORKLOAD.mlp_widths(self.size), start=1):
            hidden = nn.relu(nn.Dense(fan_out, name=f"mlp{index}")(hidden))
        logit = nn.Dense(1, name="predict")(jnp.concatenate([gmf, hidden], axis=1))
        return logit[:, 0]


class Implementation(JaxModel):
    def data_layout(self) -> str:
        return "(user, item) id pairs"

    def build_model(self) -> Any:
        return NeuMF(self.cell.size)
