"""alexnet in Keras 3 (NHWC, TensorFlow's fastest layout on CPU and GPU)."""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasImageModel, dense_head
from dlarena.workloads.alexnet.spec import CONVS, WORKLOAD


class Implementation(KerasImageModel):
    def build_model(self) -> Any:
        import keras

        size = self.cell.size
        side = self.knobs["image"]
        layers: list[Any] = [keras.Input(shape=(side, side, 3))]
        for (conv, kernel, stride, padding, pooled), (_, c_out) in zip(
                CONVS, WORKLOAD.conv_channels(size), strict=True):
            if stride == 1:  # symmetric (k - 1) / 2 padding is what 'same' does at stride 1
                layers.append(keras.layers.Conv2D(c_out, kernel, padding="same", name=conv))
            else:  # 'same' would pad asymmetrically here; PyTorch pads every side alike
                layers += [
                    keras.layers.ZeroPadding2D(padding, name=f"{conv}_pad"),
                    keras.layers.Conv2D(c_out, kernel, strides=stride, name=conv),
                ]
            layers.append(keras.layers.ReLU(name=f"{conv}_relu"))
            if pooled:
                layers.append(keras.layers.MaxPooling2D(3, strides=2, name=f"{conv}_pool"))
        layers += dense_head(WORKLOAD.dense_features(size))
        return keras.Sequential(layers)

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        return {WORKLOAD.HIDDEN[0]: WORKLOAD.flatten_shape(self.cell.size)}
