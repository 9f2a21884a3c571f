"""transformer in Keras 3: a functional model of MultiHeadAttention and LayerNormalization.

Layers are named after PyTorch's module paths (`encoder_layers_0_self_attn`, `…_linear1`), the
canonical prefixes; GELU is a separate layer so `linear1`'s output is the pre-activation, as
in PyTorch.
"""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasModel
from dlarena.workloads.transformer.spec import LAYER_NORM_EPSILON


def _gelu(x: Any) -> Any:
    """Exact (erf) GELU, as PyTorch and Flax write it: 0.5 x (1 + erf(x / sqrt(2))).

    Not `tf.nn.gelu`: it casts its 1/sqrt(2) from a Python float through a float32 tensor,
    so in float64 it is off by 1.7e-8, which moved the same-model check's layer outputs by
    5e-9; here the constant is converted at the input's dtype. And erf, not `tf.nn.gelu`'s
    erfc: tf2onnx writes erfc as an `Erfc` node, which is no ONNX operator (ONNX Runtime
    refuses the model), where erf is ONNX's `Erf`. `keras.ops.erf` is the backend's own erf,
    so every Keras backend computes the same function. Registered with Keras (`build_model`)
    so that a `.keras` file of the model reloads.
    """
    import math

    import keras

    ops = keras.ops
    dtype = keras.backend.standardize_dtype(x.dtype)
    root_half = ops.convert_to_tensor(math.sqrt(0.5), dtype=dtype)
    return 0.5 * x * (1.0 + ops.erf(x * root_half))


class Implementation(KerasModel):
    def data_layout(self) -> str:
        return "batch-major sequences"

    def build_model(self) -> Any:
        import keras

        knobs = self.knobs
        hidden, heads, sequence = knobs["hidden"], knobs["heads"], knobs["sequence"]
        layers = keras.layers
        # A plain function in a layer: `keras.saving.load_model` finds it by this name.
        gelu = keras.saving.register_keras_serializable("dlarena", "transformer_gelu")(_gelu)

        def norm(name: str) -> Any:
            return layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)

        tokens = keras.Input(shape=(sequence,), dtype="int64")
        # 0, 1, … per row, from the tokens alone: `arange` here would be a constant captured
        # from outside the graph, which tf2onnx takes for a model input and the LiteRT
        # converter cannot translate (both named it as the failing `BiasAdd`).
        positions = keras.ops.cumsum(keras.ops.ones_like(tokens), axis=1) - 1
        x = layers.Add()([
            layers.Embedding(knobs["vocabulary"], hidden, name="token_embedding")(tokens),
            layers.Embedding(sequence, hidden, name="position_embedding")(positions),
        ])
        x = norm("embedding_norm")(x)
        for index in range(knobs["layers"]):
            name = f"encoder_layers_{index}"
            attended = layers.MultiHeadAttention(heads, hidden // heads,
                                                 name=f"{name}_self_attn")(x, x)
            x = norm(f"{name}_norm1")(layers.Add()([x, attended]))
            h = layers.Dense(knobs["ffn"], name=f"{name}_linear1")(x)
            h = layers.Activation(gelu, name=f"{name}_gelu")(h)
            h = layers.Dense(hidden, name=f"{name}_linear2")(h)
            x = norm(f"{name}_norm2")(layers.Add()([x, h]))
        logits = layers.Dense(knobs["vocabulary"], name="head")(x)
        return keras.Model(tokens, logits, name="transformer")
