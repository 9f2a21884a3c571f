"""ncf in Keras 3: a functional model over (user, item) pairs."""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasModel
from dlarena.workloads.ncf.spec import WORKLOAD


class Implementation(KerasModel):
    def data_layout(self) -> str:
        return "(user, item) id pairs"

    def build_model(self) -> Any:
        import keras

        knobs = self.knobs
        layers = knobs["layers"]
        pairs = keras.Input(shape=(2,), dtype="int64")
        users, items = pairs[:, 0], pairs[:, 1]
        embed = keras.layers.Embedding
        gmf = keras.layers.Multiply(name="gmf")([
            embed(knobs["users"], knobs["factors"], name="gmf_user")(users),
            embed(knobs["items"], knobs["factors"], name="gmf_item")(items)])
        hidden = keras.layers.Concatenate(name="mlp_input")([
            embed(knobs["users"], layers[0] // 2, name="mlp_user")(users),
            embed(knobs["items"], layers[0] // 2, name="mlp_item")(items)])
        for index, (_, fan_out) in enumerate(WORKLOAD.mlp_widths(self.cell.size), start=1):
            # ReLU as its own layer: the parity check compares each weighted layer's output.
            hidden = keras.layers.Dense(fan_out, name=f"mlp{index}")(hidden)
            hidden = keras.layers.ReLU(name=f"mlp{index}_relu")(hidden)
        logit = keras.layers.Dense(1, name="predict")(
            keras.layers.Concatenate(name="towers")([gmf, hidden]))
        return keras.Model(pairs, keras.layers.Reshape((), name="logit")(logit))
