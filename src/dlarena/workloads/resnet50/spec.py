"""resnet50: ResNet-50 v1.5 as torchvision builds it, Table 1 of Paszke 2019.

Stem: conv 7x7/2 (pad 3) -> BatchNorm -> ReLU -> max-pool 3x3/2 (pad 1). Then four stages of
3, 4, 6, 3 bottleneck blocks: conv 1x1 -> BN -> ReLU -> conv 3x3 (pad 1, the stage's stride
here: "v1.5") -> BN -> ReLU -> conv 1x1 (4x wider) -> BN, plus the shortcut (conv 1x1 with the
stride -> BN where the shape changes), then ReLU. Global average pool -> dense classifier.
Convolutions have no bias (BatchNorm follows). Layer names are torchvision's module paths with
dots as underscores (`layer1_0_conv1`, `layer1_0_downsample_0`), so its checkpoints map by
name. No dropout (torchvision's has none either).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlarena.contract import Shape, SizeConfig, Weights
from dlarena.workloads import flops
from dlarena.workloads.images import ImageClassifier

BLOCKS_PER_STAGE = (3, 4, 6, 3)
EXPANSION = 4
BN_STATS = ("gamma", "beta", "moving_mean", "moving_variance")


@dataclass(frozen=True)
class Bottleneck:
    """One block: `name` is its canonical prefix (`layer2_0`), sides are feature-map sides."""

    name: str
    c_in: int
    width: int
    c_out: int
    stride: int
    in_side: int

    @property
    def out_side(self) -> int:
        return (self.in_side - 1) // self.stride + 1  # 3x3 pad 1 and 1x1 pad 0 alike

    @property
    def downsample(self) -> bool:
        return self.stride != 1 or self.c_in != self.c_out


class Resnet50(ImageClassifier):
    name = "resnet50"
    description = ("ResNet-50 v1.5 (torchvision: bottlenecks 3-4-6-3, stride on the 3x3, "
                   "BatchNorm) on ImageNet-shaped images, Adam lr 1e-3")
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=16, description="3x32x32, base width 4 (stage outputs 16-32-64-128), "
                                       "10 classes, batch 16",
            knobs={"image": 32, "width": 4, "classes": 10},
        ),
        "cpu": SizeConfig(
            batch_size=64, description="3x64x64, base width 16 (stage outputs 64-128-256-512), "
                                       "100 classes, batch 64",
            knobs={"image": 64, "width": 16, "classes": 100},
        ),
        "full": SizeConfig(
            batch_size=64,
            description="3x224x224, base width 64 (stage outputs 256-512-1024-2048), "
                        "1000 classes, batch 64",
            knobs={"image": 224, "width": 64, "classes": 1000},
        ),
    }

    def stem_sides(self, size: str) -> tuple[int, int]:
        """Sides after the 7x7/2 convolution and after the max-pool."""
        conv = (self.knobs(size)["image"] + 2 * 3 - 7) // 2 + 1
        return conv, (conv + 2 * 1 - 3) // 2 + 1

    def blocks(self, size: str) -> list[Bottleneck]:
        base = self.knobs(size)["width"]
        c_in, side = base, self.stem_sides(size)[1]
        found: list[Bottleneck] = []
        for stage, count in enumerate(BLOCKS_PER_STAGE):
            width = base * 2**stage
            for index in range(count):
                block = Bottleneck(f"layer{stage + 1}_{index}", c_in, width, width * EXPANSION,
                                   2 if stage > 0 and index == 0 else 1, side)
                found.append(block)
                c_in, side = block.c_out, block.out_side
        return found

    def initial_weights(self, size: str, seed: int) -> Weights:
        """The canonical init, with each bottleneck's last BatchNorm scale at zero.

        Goyal et al. 2017 ("Accurate, Large Minibatch SGD"); torchvision's
        `zero_init_residual=True`, and NVIDIA's ResNet-50 v1.5 recipe. Every block starts as
        the identity: without it, glorot weights give gradients up to ~200 through 16 blocks
        and float64 PyTorch and Keras part by 15% after five SGD steps — chaos, not a
        difference in the model.
        """
        weights = super().initial_weights(size, seed)
        for block in self.blocks(size):
            weights[f"{block.name}_bn3.gamma"] = np.zeros_like(weights[f"{block.name}_bn3.gamma"])
        return weights

    def features(self, size: str) -> int:
        """Channels of the last feature map, average-pooled into the classifier."""
        return self.blocks(size)[-1].c_out

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        base = self.knobs(size)["width"]
        shapes: dict[str, Shape] = {"conv1.kernel": (base, 3, 7, 7)}
        shapes.update({f"bn1.{stat}": (base,) for stat in BN_STATS})
        for block in self.blocks(size):
            convs = [("conv1", block.c_in, block.width, 1), ("conv2", block.width, block.width, 3),
                     ("conv3", block.width, block.c_out, 1)]
            for index, (conv, c_in, c_out, kernel) in enumerate(convs, start=1):
                shapes[f"{block.name}_{conv}.kernel"] = (c_out, c_in, kernel, kernel)
                shapes.update({f"{block.name}_bn{index}.{stat}": (c_out,) for stat in BN_STATS})
            if block.downsample:
                shapes[f"{block.name}_downsample_0.kernel"] = (block.c_out, block.c_in, 1, 1)
                shapes.update({f"{block.name}_downsample_1.{stat}": (block.c_out,)
                               for stat in BN_STATS})
        classes = self.knobs(size)["classes"]
        shapes["fc.kernel"] = (self.features(size), classes)
        shapes["fc.bias"] = (classes,)
        return shapes

    def forward_flops(self, size: str) -> int:
        base = self.knobs(size)["width"]
        conv_side = self.stem_sides(size)[0]
        total = flops.conv2d(3, base, 7, conv_side, conv_side)
        for block in self.blocks(size):
            side, out = block.in_side, block.out_side
            total += (flops.conv2d(block.c_in, block.width, 1, side, side)
                      + flops.conv2d(block.width, block.width, 3, out, out)
                      + flops.conv2d(block.width, block.c_out, 1, out, out))
            if block.downsample:
                total += flops.conv2d(block.c_in, block.c_out, 1, out, out)
        return total + flops.dense(self.features(size), self.knobs(size)["classes"])


WORKLOAD = Resnet50()
