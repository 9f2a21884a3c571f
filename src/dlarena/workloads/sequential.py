"""The chain models (mlp, cnn, alexnet, vgg19, resnet50, mobilenet_v2) as framework-free
lists of layers.

A framework whose model base class builds a chain from this list (frameworks/<name>/model.py)
implements each of these workloads in a file of a few lines, and the list stays the single
description of the architecture outside PyTorch's and Keras's own idiomatic code (the
layer kinds are in contract/chain.py).
"""

from __future__ import annotations

from dlarena.contract.chain import (
    BatchNorm,
    Conv,
    Dense,
    Flatten,
    GlobalAveragePool,
    Layer,
    MaxPool,
    Relu,
    Relu6,
    Residual,
)
from dlarena.workloads.alexnet.spec import CONVS as ALEXNET_CONVS
from dlarena.workloads.alexnet.spec import WORKLOAD as ALEXNET
from dlarena.workloads.cnn.spec import CONVS as CNN_CONVS
from dlarena.workloads.cnn.spec import WORKLOAD as CNN
from dlarena.workloads.images import DenseHeadClassifier
from dlarena.workloads.mlp.spec import CLASSES, HIDDEN, INPUTS
from dlarena.workloads.mobilenet_v2.spec import WORKLOAD as MOBILENET_V2
from dlarena.workloads.resnet50.spec import WORKLOAD as RESNET50
from dlarena.workloads.vgg19.spec import WORKLOAD as VGG19


def _dense_head(workload: DenseHeadClassifier, size: str) -> list[Layer]:
    layers: list[Layer] = [Flatten()]
    features = workload.dense_features(size)
    for index, (name, n_in, n_out) in enumerate(features):
        layers.append(Dense(name, n_in, n_out))
        if index < len(features) - 1:
            layers.append(Relu())
    return layers


def mlp(size: str) -> list[Layer]:
    widths = (INPUTS, *HIDDEN, CLASSES)
    names = ("dense1", "dense2", "out")
    layers: list[Layer] = []
    for index, name in enumerate(names):
        layers.append(Dense(name, widths[index], widths[index + 1]))
        if index < len(names) - 1:
            layers.append(Relu())
    return layers


def cnn(size: str) -> list[Layer]:
    layers: list[Layer] = []
    for index, (conv, (c_in, c_out)) in enumerate(
            zip(CNN_CONVS, CNN.conv_channels(size), strict=True)):
        layers += [Conv(conv, c_in, c_out, 3, padding=1, bias=False),
                   BatchNorm(f"{conv}_bn", c_out), Relu()]
        if index % 2 == 1:
            layers.append(MaxPool(2, 2))
    hidden = CNN.knobs(size)["hidden"]
    channels, height, width = CNN.flatten_shape(size)
    return [*layers, Flatten(), Dense("fc1", channels * height * width, hidden), Relu(),
            Dense("out", hidden, CLASSES)]


def alexnet(size: str) -> list[Layer]:
    layers: list[Layer] = []
    for (conv, kernel, stride, padding, pooled), (c_in, c_out) in zip(
            ALEXNET_CONVS, ALEXNET.conv_channels(size), strict=True):
        layers += [Conv(conv, c_in, c_out, kernel, stride, padding), Relu()]
        if pooled:
            layers.append(MaxPool(3, 2))
    return layers + _dense_head(ALEXNET, size)


def vgg19(size: str) -> list[Layer]:
    layers: list[Layer] = []
    for conv, c_in, c_out, _, pooled in VGG19.convs(size):
        layers += [Conv(conv, c_in, c_out, 3, padding=1), Relu()]
        if pooled:
            layers.append(MaxPool(2, 2))
    return layers + _dense_head(VGG19, size)


def resnet50(size: str) -> list[Layer]:
    """torchvision's ResNet-50 v1.5 (stride on the 3x3), canonical names its module paths."""
    base = RESNET50.knobs(size)["width"]
    layers: list[Layer] = [Conv("conv1", 3, base, 7, 2, 3, bias=False), BatchNorm("bn1", base),
                           Relu(), MaxPool(3, 2, padding=1)]
    for block in RESNET50.blocks(size):
        name = block.name
        body = (Conv(f"{name}_conv1", block.c_in, block.width, 1, bias=False),
                BatchNorm(f"{name}_bn1", block.width), Relu(),
                Conv(f"{name}_conv2", block.width, block.width, 3, block.stride, 1, bias=False),
                BatchNorm(f"{name}_bn2", block.width), Relu(),
                Conv(f"{name}_conv3", block.width, block.c_out, 1, bias=False),
                BatchNorm(f"{name}_bn3", block.c_out))
        shortcut = (Conv(f"{name}_downsample_0", block.c_in, block.c_out, 1, block.stride,
                         bias=False),
                    BatchNorm(f"{name}_downsample_1", block.c_out)) if block.downsample else ()
        layers += [Residual(body, shortcut), Relu()]
    return [*layers, GlobalAveragePool(),
            Dense("fc", RESNET50.features(size), RESNET50.knobs(size)["classes"])]


def mobilenet_v2(size: str) -> list[Layer]:
    """torchvision's MobileNetV2 (workloads/mobilenet_v2/spec.py), canonical names its
    module paths: a block is a residual where its stride is 1 and its channels stay."""
    knobs = MOBILENET_V2.knobs(size)
    stem, _ = MOBILENET_V2.stem(size)
    layers: list[Layer] = [Conv("stem", 3, stem, 3, 2, 1, bias=False),
                           BatchNorm("stem_bn", stem), Relu6()]
    blocks = MOBILENET_V2.blocks(size)
    for block in blocks:
        name, hidden = block.name, block.hidden
        body: list[Layer] = []
        if block.expand:
            body += [Conv(f"{name}_expand", block.c_in, hidden, 1, bias=False),
                     BatchNorm(f"{name}_expand_bn", hidden), Relu6()]
        body += [Conv(f"{name}_depthwise", hidden, hidden, 3, block.stride, 1, bias=False,
                      groups=hidden),
                 BatchNorm(f"{name}_depthwise_bn", hidden), Relu6(),
                 Conv(f"{name}_project", hidden, block.c_out, 1, bias=False),
                 BatchNorm(f"{name}_project_bn", block.c_out)]
        layers += [Residual(tuple(body))] if block.residual else body
    last = knobs["last_channels"]
    return [*layers, Conv("head", blocks[-1].c_out, last, 1, bias=False),
            BatchNorm("head_bn", last), Relu6(), GlobalAveragePool(),
            Dense("classifier", last, knobs["classes"])]


CHAINS = {"mlp": mlp, "cnn": cnn, "alexnet": alexnet, "vgg19": vgg19, "resnet50": resnet50,
          "mobilenet_v2": mobilenet_v2}
