"""mobilenet_v2 in Keras 3 (functional, NHWC: TensorFlow's fastest layout).

PyTorch pads strided convolutions symmetrically; Keras' 'same' pads less before than after at
stride 2 (keras.applications' MobileNetV2 pads asymmetrically for that reason), so the strided
stem and depthwise convolutions here get an explicit one-pixel ZeroPadding2D.
"""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasImageModel
from dlarena.workloads.mobilenet_v2 import spec
from dlarena.workloads.mobilenet_v2.spec import WORKLOAD


class Implementation(KerasImageModel):
    def build_model(self) -> Any:
        import keras

        layers, bn = keras.layers, WORKLOAD.batch_norm

        def norm_relu6(x: Any, name: str, *, activate: bool = True) -> Any:
            x = layers.BatchNormalization(epsilon=bn.epsilon, momentum=1.0 - bn.momentum,
                                          name=f"{name}_bn")(x)
            return layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x) if activate else x

        def inverted_residual(x: Any, block: spec.InvertedResidual) -> Any:
            name, y = block.name, x
            if block.expand:
                y = layers.Conv2D(block.hidden, 1, use_bias=False, name=f"{name}_expand")(y)
                y = norm_relu6(y, f"{name}_expand")
            if block.stride == 1:
                y = layers.DepthwiseConv2D(3, padding="same", use_bias=False,
                                           name=f"{name}_depthwise")(y)
            else:
                y = layers.ZeroPadding2D(1, name=f"{name}_pad")(y)
                y = layers.DepthwiseConv2D(3, strides=block.stride, use_bias=False,
                                           name=f"{name}_depthwise")(y)
            y = norm_relu6(y, f"{name}_depthwise")
            y = layers.Conv2D(block.c_out, 1, use_bias=False, name=f"{name}_project")(y)
            y = norm_relu6(y, f"{name}_project", activate=False)  # linear bottleneck
            return layers.Add(name=f"{name}_add")([y, x]) if block.residual else y

        side, size = self.knobs["image"], self.cell.size
        inputs = keras.Input(shape=(side, side, 3))
        x = layers.ZeroPadding2D(1, name="stem_pad")(inputs)
        x = layers.Conv2D(WORKLOAD.stem(size)[0], 3, strides=2, use_bias=False, name="stem")(x)
        x = norm_relu6(x, "stem")
        for block in WORKLOAD.blocks(size):
            x = inverted_residual(x, block)
        x = layers.Conv2D(self.knobs["last_channels"], 1, use_bias=False, name="head")(x)
        x = norm_relu6(x, "head")
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        outputs = layers.Dense(self.knobs["classes"], name="classifier")(x)
        return keras.Model(inputs, outputs, name="mobilenet_v2")

