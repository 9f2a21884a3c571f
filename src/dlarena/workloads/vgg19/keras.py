"""vgg19 in Keras 3 (NHWC, TensorFlow's fastest layout on CPU and GPU)."""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasImageModel, dense_head
from dlarena.workloads.vgg19.spec import WORKLOAD


class Implementation(KerasImageModel):
    def build_model(self) -> Any:
        import keras

        size = self.cell.size
        side = self.knobs["image"]
        layers: list[Any] = [keras.Input(shape=(side, side, 3))]
        for conv, _, c_out, _, pooled in WORKLOAD.convs(size):
            # Stride 1: 'same' pads one pixel on every side, as PyTorch's padding=1 does.
            layers += [keras.layers.Conv2D(c_out, 3, padding="same", name=conv),
                       keras.layers.ReLU(name=f"{conv}_relu")]
            if pooled:
                layers.append(keras.layers.MaxPooling2D(2, name=f"{conv}_pool"))
        layers += dense_head(WORKLOAD.dense_features(size))
        return keras.Sequential(layers)

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        return {WORKLOAD.HIDDEN[0]: WORKLOAD.flatten_shape(self.cell.size)}
