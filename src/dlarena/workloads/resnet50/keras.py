"""resnet50 in Keras 3 (functional, NHWC: TensorFlow's fastest layout).

PyTorch pads strided convolutions and the stem's max-pool symmetrically; Keras' 'same' pads
less before than after at stride 2, so those layers get an explicit ZeroPadding2D. Zeros
before the max-pool equal PyTorch's -inf padding there: the pool's inputs follow a ReLU.
"""

from __future__ import annotations

from typing import Any

from dlarena.frameworks._keras.model import KerasImageModel
from dlarena.workloads.resnet50 import spec
from dlarena.workloads.resnet50.spec import WORKLOAD


class Implementation(KerasImageModel):
    def build_model(self) -> Any:
        import keras

        layers, bn = keras.layers, WORKLOAD.batch_norm

        def norm(name: str) -> Any:
            return layers.BatchNormalization(epsilon=bn.epsilon, momentum=1.0 - bn.momentum,
                                             name=name)

        def bottleneck(x: Any, block: spec.Bottleneck) -> Any:
            name = block.name
            y = layers.Conv2D(block.width, 1, use_bias=False, name=f"{name}_conv1")(x)
            y = layers.ReLU(name=f"{name}_relu1")(norm(f"{name}_bn1")(y))
            if block.stride == 1:
                y = layers.Conv2D(block.width, 3, padding="same", use_bias=False,
                                  name=f"{name}_conv2")(y)
            else:
                y = layers.ZeroPadding2D(1, name=f"{name}_pad2")(y)
                y = layers.Conv2D(block.width, 3, strides=block.stride, use_bias=False,
                                  name=f"{name}_conv2")(y)
            y = layers.ReLU(name=f"{name}_relu2")(norm(f"{name}_bn2")(y))
            y = norm(f"{name}_bn3")(
                layers.Conv2D(block.c_out, 1, use_bias=False, name=f"{name}_conv3")(y))
            if block.downsample:
                x = layers.Conv2D(block.c_out, 1, strides=block.stride, use_bias=False,
                                  name=f"{name}_downsample_0")(x)
                x = norm(f"{name}_downsample_1")(x)
            return layers.ReLU(name=f"{name}_relu3")(layers.Add(name=f"{name}_add")([y, x]))

        side = self.knobs["image"]
        inputs = keras.Input(shape=(side, side, 3))
        x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
        x = layers.Conv2D(self.knobs["width"], 7, strides=2, use_bias=False, name="conv1")(x)
        x = layers.ReLU(name="relu")(norm("bn1")(x))
        x = layers.ZeroPadding2D(1, name="maxpool_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
        for block in WORKLOAD.blocks(self.cell.size):
            x = bottleneck(x, block)
        x = layers.GlobalAveragePooling2D(name="avgpool")(x)
        outputs = layers.Dense(self.knobs["classes"], name="fc")(x)
        return keras.Model(inputs, outputs, name="resnet50")

