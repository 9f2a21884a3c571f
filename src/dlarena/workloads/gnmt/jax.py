"""gnmt in JAX (Flax Linen): LSTM layers as lax.scans, Bahdanau attention written out.

Modules are named after PyTorch's paths joined by "_" (`encoder_layers_0`,
`decoder_attention`), the canonical prefixes.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from dlarena.frameworks.jax.layers import bidirectional_lstm, lstm
from dlarena.frameworks.jax.model import JaxModel
from dlarena.workloads.gnmt.spec import DECODER_LAYERS, ENCODER_LAYERS, FIRST_RESIDUAL, WORKLOAD

_ZEROS = nn.initializers.zeros_init()  # shapes only: every weight is loaded


class BahdanauAttention(nn.Module):
    """score = v . tanh(W_q q + W_k k + b); returns the context, softmax(score) @ keys."""

    hidden: int

    @nn.compact
    def __call__(self, query: Any, keys: Any) -> Any:
        hidden = self.hidden
        # (B, T, 1, H) + (B, 1, S, H) -> scores (B, T, S)
        summed = (jnp.expand_dims(query @ self.param("query_kernel", _ZEROS, (hidden, hidden)), 2)
                  + jnp.expand_dims(keys @ self.param("key_kernel", _ZEROS, (hidden, hidden)), 1)
                  + self.param("bias", _ZEROS, (hidden,)))
        scores = (jnp.tanh(summed) @ self.param("score_kernel", _ZEROS, (hidden, 1)))[..., 0]
        return jax.nn.softmax(scores, axis=-1) @ keys


class Gnmt(nn.Module):
    """Takes source and decoder-input tokens as one (B, S + T) array; returns (B, T, V) logits."""

    size: str

    @nn.compact
    def __call__(self, tokens: Any, *, training: bool) -> Any:
        knobs = WORKLOAD.knobs(self.size)
        hidden, vocabulary, source = knobs["hidden"], knobs["vocabulary"], knobs["source"]
        x = nn.Embed(vocabulary, hidden, name="encoder_embedding")(tokens[:, :source])
        x = bidirectional_lstm(hidden, name="encoder_layers_0")(x)
        for index in range(1, ENCODER_LAYERS):
            output = lstm(hidden, name=f"encoder_layers_{index}")(x)
            x = output + x if index >= FIRST_RESIDUAL else output
        keys = x

        x = nn.Embed(vocabulary, hidden, name="decoder_embedding")(tokens[:, source:])
        x = lstm(hidden, name="decoder_layers_0")(x)
        context = BahdanauAttention(hidden, name="decoder_attention")(x, keys)
        for index in range(1, DECODER_LAYERS):
            output = lstm(hidden, name=f"decoder_layers_{index}")(
                jnp.concatenate([x, context], axis=-1))
            x = output + x if index >= FIRST_RESIDUAL else output
        return nn.Dense(vocabulary, name="decoder_classifier")(x)


class Implementation(JaxModel):
    def data_layout(self) -> str:
        return "batch-major sequences"

    def conventions(self) -> dict[str, Any]:
        return {"lstm": "gates i, f, g, o; one bias; sigmoid gates, tanh cell; lax.scan"}

    def build_model(self) -> Any:
        return Gnmt(self.cell.size)
