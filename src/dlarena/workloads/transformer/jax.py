"""transformer in JAX (Flax Linen): post-LN encoder layers, exact (erf) GELU.

Layers are named after PyTorch's module paths (`encoder_layers_0_self_attn`, `…_linear1`),
the canonical prefixes. Flax's `nn.gelu` defaults to the tanh approximation; PyTorch's and
Keras' layers here use the exact one, so it is asked for (`approximate=False`).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from dlarena.frameworks.jax.layers import self_attention
from dlarena.frameworks.jax.model import JaxModel
from dlarena.workloads.transformer.spec import LAYER_NORM_EPSILON, WORKLOAD


def _norm(name: str) -> Any:
    # Exact variance, mean((x - mean)^2): see model.batch_norm.
    return nn.LayerNorm(epsilon=LAYER_NORM_EPSILON, use_fast_variance=False, name=name)


class Bert(nn.Module):
    size: str

    @nn.compact
    def __call__(self, tokens: Any, *, training: bool) -> Any:
        knobs = WORKLOAD.knobs(self.size)
        hidden, sequence = knobs["hidden"], knobs["sequence"]
        positions = jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape)
        x = (nn.Embed(knobs["vocabulary"], hidden, name="token_embedding")(tokens)
             + nn.Embed(sequence, hidden, name="position_embedding")(positions))
        x = _norm("embedding_norm")(x)
        for index in range(knobs["layers"]):
            name = f"encoder_layers_{index}"
            x = _norm(f"{name}_norm1")(x + self_attention(knobs["heads"],
                                                         name=f"{name}_self_attn")(x))
            h = nn.gelu(nn.Dense(knobs["ffn"], name=f"{name}_linear1")(x), approximate=False)
            x = _norm(f"{name}_norm2")(x + nn.Dense(hidden, name=f"{name}_linear2")(h))
        return nn.Dense(knobs["vocabulary"], name="head")(x)


class Implementation(JaxModel):
    def data_layout(self) -> str:
        return "batch-major sequences"

    def conventions(self) -> dict[str, Any]:
        return {"gelu": "exact (erf), approximate=False", "layernorm_epsilon": LAYER_NORM_EPSILON,
                "layernorm_variance": "exact, mean((x - mean)^2)", "attention": "post-LN, "
                "scores scaled by 1/sqrt(head width), no mask"}

    def build_model(self) -> Any:
        return Bert(self.cell.size)
