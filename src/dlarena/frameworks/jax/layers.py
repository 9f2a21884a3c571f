"""Linen layers Flax lacks in the canonical form: an LSTM with one bias and fused gates.

Flax's `LSTMCell` keeps a Dense per gate with the bias on the recurrent side; the canonical
LSTM (Keras' orientation) has one kernel (in, 4u), one recurrent kernel (u, 4u) and one bias
(4u), gates in the order input, forget, cell, output, sigmoid gates and tanh cell. Written as
a `lax.scan` over time, with the input projection of every step done in one product first.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any


def lstm(units: int, *, name: str, return_sequences: bool = True) -> Any:
    """One LSTM layer; returns every step's output, or the last one's."""
    return _layers().Lstm(units, return_sequences, name=name)


def bidirectional_lstm(units: int, *, name: str) -> Any:
    """Forward and backward LSTMs over the sequence; outputs [forward, backward] per step."""
    return _layers().BidirectionalLstm(units, name=name)


def self_attention(heads: int, *, name: str) -> Any:
    """Multi-head self-attention with the canonical (hidden, hidden) projections."""
    return _layers().SelfAttention(heads, name=name)


@functools.cache
def _layers() -> SimpleNamespace:
    """The Linen classes, defined on first use: importing this module never imports JAX."""
    import jax
    import jax.numpy as jnp
    from flax import linen as nn

    ZEROS = nn.initializers.zeros_init()  # shapes only: every weight is loaded

    def run(inputs: Any, kernel: Any, recurrent: Any, bias: Any, *, reverse: bool) -> Any:
        """Batch-major (B, T, in) -> every step's output (B, T, u), zero initial state."""
        units = recurrent.shape[0]
        projected = jnp.swapaxes(inputs @ kernel + bias, 0, 1)  # (T, B, 4u)
        zeros = jnp.zeros((inputs.shape[0], units), projected.dtype)

        def step(carry: tuple[Any, Any], x: Any) -> tuple[tuple[Any, Any], Any]:
            h, c = carry
            gates = x + h @ recurrent
            i, f, g, o = jnp.split(gates, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        _, outputs = jax.lax.scan(step, (zeros, zeros), projected, reverse=reverse)
        return jnp.swapaxes(outputs, 0, 1)

    class Lstm(nn.Module):
        """One LSTM layer; returns every step's output, or the last one's."""

        units: int
        return_sequences: bool = True

        @nn.compact
        def __call__(self, inputs: Any) -> Any:
            width, units = inputs.shape[-1], self.units
            outputs = run(inputs, self.param("kernel", ZEROS, (width, 4 * units)),
                           self.param("recurrent_kernel", ZEROS, (units, 4 * units)),
                           self.param("bias", ZEROS, (4 * units,)), reverse=False)
            return outputs if self.return_sequences else outputs[:, -1]

    class BidirectionalLstm(nn.Module):
        """Forward and backward LSTMs over the sequence; outputs [forward, backward] per step."""

        units: int

        @nn.compact
        def __call__(self, inputs: Any) -> Any:
            width, units = inputs.shape[-1], self.units
            outputs = [
                run(inputs, self.param(f"{side}_kernel", ZEROS, (width, 4 * units)),
                     self.param(f"{side}_recurrent_kernel", ZEROS, (units, 4 * units)),
                     self.param(f"{side}_bias", ZEROS, (4 * units,)), reverse=side == "backward")
                for side in ("forward", "backward")]
            return jnp.concatenate(outputs, axis=-1)

    class SelfAttention(nn.Module):
        """Multi-head self-attention with the canonical (hidden, hidden) projections.

        Flax's `MultiHeadDotProductAttention` keeps (hidden, heads, head) kernels in nested
        `query`/`key`/`value`/`out` modules; the computation is the same, written here with one
        `{part}_kernel` and `{part}_bias` per projection (PyTorch's and Keras' layout). Scores are
        scaled by 1/sqrt(head width), softmax over the keys, no mask, no dropout.
        """

        heads: int

        @nn.compact
        def __call__(self, x: Any) -> Any:
            batch, steps, hidden = x.shape
            head = hidden // self.heads

            def project(part: str, inputs: Any) -> Any:
                return (inputs @ self.param(f"{part}_kernel", ZEROS, (hidden, hidden))
                        + self.param(f"{part}_bias", ZEROS, (hidden,)))

            def split(inputs: Any) -> Any:
                return inputs.reshape(batch, steps, self.heads, head)

            query, key, value = (split(project(part, x)) for part in ("query", "key", "value"))
            attended = nn.dot_product_attention(query, key, value)
            return project("output", attended.reshape(batch, steps, hidden))

    return SimpleNamespace(Lstm=Lstm, BidirectionalLstm=BidirectionalLstm,
                           SelfAttention=SelfAttention)
