"""mlp in Keras 3."""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasModel
from dlarena.workloads.mlp.spec import CLASSES, HIDDEN, INPUTS


class Implementation(KerasModel):
    def data_layout(self) -> str:
        return "contiguous"

    def build_model(self) -> Any:
        import keras

        return keras.Sequential(
            [
                keras.Input(shape=(INPUTS,)),
                keras.layers.Dense(HIDDEN[0], name="dense1"),
                keras.layers.ReLU(name="relu1"),
                keras.layers.Dense(HIDDEN[1], name="dense2"),
                keras.layers.ReLU(name="relu2"),
                keras.layers.Dense(CLASSES, name="out"),
            ]
        )
