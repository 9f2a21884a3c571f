"""alexnet: torchvision's single-tower AlexNet (Krizhevsky 2014 widths), Table 1 of Paszke 2019.

conv 11x11/4 (pad 2) -> max-pool 3/2 -> conv 5x5 (pad 2) -> max-pool 3/2 -> three 3x3 convs
(pad 1) -> max-pool 3/2 -> flatten -> dense -> dense -> classifier; ReLU after every layer but
the classifier. Two departures from torchvision, neither changing the computation that is
timed: no dropout (parity compares training-mode passes and gradients, which random masks
would break), and no adaptive average pool (at 224x224 the map is already 6x6, where that pool
is the identity). The flatten order is canonical (channels, height, width).
"""

from __future__ import annotations

from dlarena.contract import Shape, SizeConfig
from dlarena.workloads import flops
from dlarena.workloads.images import DenseHeadClassifier

# name, kernel, stride, padding, followed by a 3x3/2 max-pool
CONVS = (
    ("conv1", 11, 4, 2, True),
    ("conv2", 5, 1, 2, True),
    ("conv3", 3, 1, 1, False),
    ("conv4", 3, 1, 1, False),
    ("conv5", 3, 1, 1, True),
)


class Alexnet(DenseHeadClassifier):
    name = "alexnet"
    description = ("AlexNet (torchvision single-tower, 5 conv + 3 dense, no dropout) on "
                   "ImageNet-shaped images, Adam lr 1e-3")
    sizes = {  # noqa: RUF012 - class-level constant table
        # 64x64 is about the least the 11x11/4 stem and three 3x3/2 pools fit (63): the last
        # pool sees 3x3 and leaves 1x1, so the depth is kept at every size.
        "smoke": SizeConfig(
            batch_size=16,
            description="3x64x64, channels 8-16-16-16-16, dense 64, 10 classes, batch 16",
            knobs={"image": 64, "channels": (8, 16, 16, 16, 16), "hidden": 64, "classes": 10},
        ),
        "cpu": SizeConfig(
            batch_size=64,
            description="3x64x64, channels 64-192-384-256-256, dense 2048, 100 classes, batch 64",
            knobs={"image": 64, "channels": (64, 192, 384, 256, 256), "hidden": 2048,
                   "classes": 100},
        ),
        "full": SizeConfig(
            batch_size=128,
            description="3x224x224, channels 64-192-384-256-256, dense 4096, 1000 classes, "
                        "batch 128 (as in the paper)",
            knobs={"image": 224, "channels": (64, 192, 384, 256, 256), "hidden": 4096,
                   "classes": 1000},
        ),
    }

    def conv_channels(self, size: str) -> list[tuple[int, int]]:
        """(in, out) channels of each convolution, in order."""
        channels = self.knobs(size)["channels"]
        return list(zip((3, *channels[:-1]), channels, strict=True))

    def conv_sides(self, size: str) -> list[int]:
        """Output side of each convolution (before its pool, if any)."""
        side, sides = self.knobs(size)["image"], []
        for _, kernel, stride, padding, pooled in CONVS:
            side = (side + 2 * padding - kernel) // stride + 1
            sides.append(side)
            if pooled:
                side = (side - 3) // 2 + 1
        return sides

    def flatten_shape(self, size: str) -> tuple[int, int, int]:
        """(C, H, W) of the feature map that is flattened into the first dense layer."""
        side = (self.conv_sides(size)[-1] - 3) // 2 + 1
        return self.knobs(size)["channels"][-1], side, side

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        for (conv, kernel, *_), (c_in, c_out) in zip(CONVS, self.conv_channels(size),
                                                       strict=True):
            shapes[f"{conv}.kernel"] = (c_out, c_in, kernel, kernel)
            shapes[f"{conv}.bias"] = (c_out,)
        return {**shapes, **self.head_shapes(size)}

    def forward_flops(self, size: str) -> int:
        total = sum(
            flops.conv2d(c_in, c_out, kernel, side, side)
            for (_, kernel, *_), (c_in, c_out), side in zip(
                CONVS, self.conv_channels(size), self.conv_sides(size), strict=True)
        )
        return total + self.head_flops(size)


WORKLOAD = Alexnet()
