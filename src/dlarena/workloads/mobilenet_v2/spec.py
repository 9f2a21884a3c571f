"""mobilenet_v2: MobileNetV2 as torchvision builds it, Table 1 of Paszke 2019.

Stem conv 3x3/2 (pad 1) -> BN -> ReLU6; 17 inverted residual blocks: conv 1x1 expansion (t x
wider; absent where t = 1) -> BN -> ReLU6 -> depthwise 3x3 (pad 1, the block's stride) -> BN
-> ReLU6 -> conv 1x1 projection -> BN (linear bottleneck), plus the input where stride is 1 and
the channels stay; then conv 1x1 to the last channels -> BN -> ReLU6, global average pool,
dense classifier. Channels are the width multiplier times torchvision's, rounded to multiples
of 8 as torchvision does. Convolutions have no bias (BatchNorm follows). No dropout (parity
compares training-mode passes and gradients, which random masks would break): torchvision's
0.2 dropout before the classifier is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlarena.contract import Shape, SizeConfig, Weights
from dlarena.workloads import flops
from dlarena.workloads.images import ImageClassifier

# (expansion t, channels c, blocks n, stride of the first s) of the paper's Table 2
INVERTED_RESIDUALS = (
    (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
    (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
)
STEM_CHANNELS = 32
BN_STATS = ("gamma", "beta", "moving_mean", "moving_variance")


def make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's rounding of scaled channels: nearest multiple, never 10% below."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class InvertedResidual:
    """One block: `name` is its canonical prefix (`block3`), sides are feature-map sides."""

    name: str
    c_in: int
    hidden: int
    c_out: int
    stride: int
    in_side: int

    @property
    def expand(self) -> bool:
        return self.hidden != self.c_in

    @property
    def out_side(self) -> int:
        return (self.in_side - 1) // self.stride + 1  # 3x3 with pad 1

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.c_in == self.c_out


class MobilenetV2(ImageClassifier):
    name = "mobilenet_v2"
    description = ("MobileNetV2 (torchvision: 17 inverted residuals, ReLU6, BatchNorm, "
                   "no dropout) on ImageNet-shaped images, Adam lr 1e-3")
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=16,
            description="3x32x32, width 0.25, last channels 128, 10 classes, batch 16",
            knobs={"image": 32, "width": 0.25, "last_channels": 128, "classes": 10},
        ),
        "cpu": SizeConfig(
            batch_size=64,
            description="3x64x64, width 0.5, last channels 1280, 100 classes, batch 64",
            knobs={"image": 64, "width": 0.5, "last_channels": 1280, "classes": 100},
        ),
        "full": SizeConfig(
            batch_size=64,
            description="3x224x224, width 1.0, last channels 1280, 1000 classes, batch 64",
            knobs={"image": 224, "width": 1.0, "last_channels": 1280, "classes": 1000},
        ),
    }

    def stem(self, size: str) -> tuple[int, int]:
        """Channels and side of the stem convolution's output."""
        side = (self.knobs(size)["image"] - 1) // 2 + 1  # 3x3/2 with pad 1
        return make_divisible(STEM_CHANNELS * self.knobs(size)["width"]), side

    def blocks(self, size: str) -> list[InvertedResidual]:
        width = self.knobs(size)["width"]
        c_in, side = self.stem(size)
        found: list[InvertedResidual] = []
        for expansion, channels, count, stride in INVERTED_RESIDUALS:
            c_out = make_divisible(channels * width)
            for index in range(count):
                block = InvertedResidual(f"block{len(found) + 1}", c_in,
                                         c_in * expansion, c_out,
                                         stride if index == 0 else 1, side)
                found.append(block)
                c_in, side = c_out, block.out_side
        return found

    def initial_weights(self, size: str, seed: int) -> Weights:
        """The canonical init, with each residual block's projection BatchNorm scale at zero.

        Goyal et al.'s zero-init of the last BatchNorm of a residual branch (as ResNet-50
        here): residual blocks start as the identity. Without it, glorot weights give
        gradients up to ~80 and five SGD steps part PyTorch from Keras, both in float64.
        """
        weights = super().initial_weights(size, seed)
        for block in self.blocks(size):
            if block.residual:
                name = f"{block.name}_project_bn.gamma"
                weights[name] = np.zeros_like(weights[name])
        return weights

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        stem, _ = self.stem(size)
        shapes: dict[str, Shape] = {"stem.kernel": (stem, 3, 3, 3)}
        shapes.update({f"stem_bn.{stat}": (stem,) for stat in BN_STATS})
        for block in self.blocks(size):
            convs = [("depthwise", (block.hidden, 1, 3, 3)),
                     ("project", (block.c_out, block.hidden, 1, 1))]
            if block.expand:
                convs.insert(0, ("expand", (block.hidden, block.c_in, 1, 1)))
            for conv, shape in convs:
                shapes[f"{block.name}_{conv}.kernel"] = shape
                shapes.update({f"{block.name}_{conv}_bn.{stat}": (shape[0],)
                               for stat in BN_STATS})
        last, classes = self.knobs(size)["last_channels"], self.knobs(size)["classes"]
        shapes["head.kernel"] = (last, self.blocks(size)[-1].c_out, 1, 1)
        shapes.update({f"head_bn.{stat}": (last,) for stat in BN_STATS})
        shapes["classifier.kernel"] = (last, classes)
        shapes["classifier.bias"] = (classes,)
        return shapes

    def forward_flops(self, size: str) -> int:
        stem, side = self.stem(size)
        total = flops.conv2d(3, stem, 3, side, side)
        for block in self.blocks(size):
            side, out = block.in_side, block.out_side
            if block.expand:
                total += flops.conv2d(block.c_in, block.hidden, 1, side, side)
            total += (flops.conv2d(block.hidden, block.hidden, 3, out, out, groups=block.hidden)
                      + flops.conv2d(block.hidden, block.c_out, 1, out, out))
        last = self.blocks(size)[-1]
        knobs = self.knobs(size)
        total += flops.conv2d(last.c_out, knobs["last_channels"], 1, last.out_side,
                              last.out_side)
        return total + flops.dense(knobs["last_channels"], knobs["classes"])


WORKLOAD = MobilenetV2()
