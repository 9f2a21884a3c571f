"""lstm in Keras 3."""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasModel
from dlarena.workloads.lstm.spec import CLASSES


class Implementation(KerasModel):
    def data_layout(self) -> str:
        return "batch-major sequences"

    def build_model(self) -> Any:
        import keras

        knobs = self.knobs
        return keras.Sequential([
            keras.Input(shape=(knobs["steps"],), dtype="int64"),
            keras.layers.Embedding(knobs["vocabulary"], knobs["embedding"], name="embedding"),
            keras.layers.LSTM(knobs["units"], name="lstm"),
            keras.layers.Dense(CLASSES, name="out"),
        ])
