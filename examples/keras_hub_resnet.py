"""A small ResNet from keras-hub's architecture, random weights (nothing is downloaded), with a
10-class head, for 32x32 RGB images: a Keras 3 model nobody here wrote.

    dlarena run --model examples/keras_hub_resnet.py:build

runs it on every installed Keras backend (TensorFlow, JAX, PyTorch), proves in float64 that
they compute the same function layer by layer, and gives verdicts.
"""

import keras
import keras_hub


def build() -> keras.Model:
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 96],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        use_pre_activation=False,
        image_shape=(32, 32, 3),
    )
    # One functional graph over the backbone's own layers: the check compares each of them.
    features = keras.layers.GlobalAveragePooling2D(name="pool")(backbone.output)
    logits = keras.layers.Dense(10, name="logits")(features)
    return keras.Model(backbone.input, logits, name="keras_hub_resnet")
