"""cnn in Keras 3 (NHWC, TensorFlow's fastest layout on CPU and GPU)."""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasImageModel
from dlarena.workloads.cnn.spec import CLASSES, CONVS, IMAGE, WORKLOAD


class Implementation(KerasImageModel):
    def build_model(self) -> Any:
        import keras

        bn = WORKLOAD.batch_norm
        channels, height, width = IMAGE
        layers: list[Any] = [keras.Input(shape=(height, width, channels))]
        for index, (conv, (_, c_out)) in enumerate(
            zip(CONVS, WORKLOAD.conv_channels(self.cell.size), strict=True)
        ):
            layers += [
                keras.layers.Conv2D(c_out, 3, padding="same", use_bias=False, name=conv),
                keras.layers.BatchNormalization(
                    epsilon=bn.epsilon, momentum=1.0 - bn.momentum, name=f"{conv}_bn"
                ),
                keras.layers.ReLU(name=f"{conv}_relu"),
            ]
            if index % 2 == 1:
                layers.append(keras.layers.MaxPooling2D(2, name=f"pool{index // 2 + 1}"))
        layers += [
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(self.knobs["hidden"], name="fc1"),
            keras.layers.ReLU(name="fc1_relu"),
            keras.layers.Dense(CLASSES, name="out"),
        ]
        return keras.Sequential(layers)


    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        return {"fc1": WORKLOAD.flatten_shape(self.cell.size)}
