"""gnmt in Keras 3: a functional model, Bidirectional(LSTM) for the first layer."""

from __future__ import annotations

from typing import Any

import keras

from dlarena.frameworks._keras.layouts import Slot
from dlarena.frameworks._keras.model import KerasModel
from dlarena.workloads.gnmt.spec import DECODER_LAYERS, ENCODER_LAYERS, FIRST_RESIDUAL


class BahdanauAttention(keras.layers.Layer):  # type: ignore[misc]
    """score = v . tanh(W_q q + W_k k + b); called on [query, keys], returns the context.

    Keras' AdditiveAttention has no query/key projections, so the layer is written out.
    """

    def __init__(self, hidden: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = hidden

    def build(self, input_shape: Any) -> None:
        hidden = self.hidden
        self.query_kernel = self.add_weight(shape=(hidden, hidden), name="query_kernel")
        self.key_kernel = self.add_weight(shape=(hidden, hidden), name="key_kernel")
        self.bias = self.add_weight(shape=(hidden,), initializer="zeros", name="bias")
        self.score_kernel = self.add_weight(shape=(hidden, 1), name="score_kernel")

    def canonical_variables(self) -> dict[str, Slot]:
        return {"query_kernel": Slot(self.query_kernel), "key_kernel": Slot(self.key_kernel),
                "bias": Slot(self.bias), "score_kernel": Slot(self.score_kernel)}

    def call(self, inputs: list[Any]) -> Any:
        ops = keras.ops
        query, keys = inputs
        # (B, T, 1, H) + (B, 1, S, H) -> scores (B, T, S)
        summed = (ops.expand_dims(ops.matmul(query, self.query_kernel), 2)
                  + ops.expand_dims(ops.matmul(keys, self.key_kernel), 1) + self.bias)
        scores = ops.squeeze(ops.matmul(ops.tanh(summed), self.score_kernel), -1)
        return ops.matmul(ops.softmax(scores, axis=-1), keys)

    def compute_output_shape(self, input_shape: Any) -> Any:
        query, keys = input_shape
        return (*query[:-1], keys[-1])


class Implementation(KerasModel):
    def data_layout(self) -> str:
        return "batch-major sequences"

    def build_model(self) -> Any:
        knobs = self.knobs
        hidden, vocabulary, source = knobs["hidden"], knobs["vocabulary"], knobs["source"]
        layers = keras.layers

        def lstm(name: str) -> Any:
            return layers.LSTM(hidden, return_sequences=True, name=name)

        tokens = keras.Input(shape=(source + knobs["target"],), dtype="int64")
        x = layers.Embedding(vocabulary, hidden, name="encoder_embedding")(tokens[:, :source])
        x = layers.Bidirectional(layers.LSTM(hidden, return_sequences=True),
                                 name="encoder_layers_0")(x)
        for index in range(1, ENCODER_LAYERS):
            output = lstm(f"encoder_layers_{index}")(x)
            x = layers.Add()([output, x]) if index >= FIRST_RESIDUAL else output
        keys = x

        x = layers.Embedding(vocabulary, hidden, name="decoder_embedding")(tokens[:, source:])
        x = lstm("decoder_layers_0")(x)
        context = BahdanauAttention(hidden, name="decoder_attention")([x, keys])
        for index in range(1, DECODER_LAYERS):
            output = lstm(f"decoder_layers_{index}")(layers.Concatenate()([x, context]))
            x = layers.Add()([output, x]) if index >= FIRST_RESIDUAL else output
        logits = layers.Dense(vocabulary, name="decoder_classifier")(x)
        return keras.Model(tokens, logits, name="gnmt")
