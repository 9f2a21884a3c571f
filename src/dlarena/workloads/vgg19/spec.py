"""vgg19: VGG-19, configuration E of Simonyan & Zisserman, Table 1 of Paszke 2019.

Five stages of 3x3 convolutions (pad 1, with bias, ReLU): 2, 2, 4, 4, 4 of them, each stage
ending in a 2x2/2 max-pool; then flatten -> dense -> dense -> classifier. No BatchNorm, as in
the paper. Two departures from torchvision, neither changing the computation that is timed: no
dropout (parity compares training-mode passes and gradients, which random masks would break),
and no adaptive average pool (at 224x224 the map is already 7x7, where that pool is the
identity). The flatten order is canonical (channels, height, width).
"""

from __future__ import annotations

from dlarena.contract import Shape, SizeConfig
from dlarena.workloads import flops
from dlarena.workloads.images import DenseHeadClassifier

CONVS_PER_STAGE = (2, 2, 4, 4, 4)


class Vgg19(DenseHeadClassifier):
    name = "vgg19"
    description = ("VGG-19 (configuration E, 16 conv + 3 dense, no BatchNorm, no dropout) on "
                   "ImageNet-shaped images, Adam lr 1e-3")
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=16,
            description="3x32x32, channels 4-8-8-16-16, dense 32, 10 classes, batch 16",
            knobs={"image": 32, "channels": (4, 8, 8, 16, 16), "hidden": 32, "classes": 10},
        ),
        "cpu": SizeConfig(
            batch_size=64,
            description="3x64x64, channels 16-32-64-128-128, dense 512, 100 classes, batch 64",
            knobs={"image": 64, "channels": (16, 32, 64, 128, 128), "hidden": 512,
                   "classes": 100},
        ),
        "full": SizeConfig(
            batch_size=64,
            description="3x224x224, channels 64-128-256-512-512, dense 4096, 1000 classes, "
                        "batch 64 (fits one 16 GB GPU in fp32 training)",
            knobs={"image": 224, "channels": (64, 128, 256, 512, 512), "hidden": 4096,
                   "classes": 1000},
        ),
    }

    def convs(self, size: str) -> list[tuple[str, int, int, int, bool]]:
        """(name, in channels, out channels, output side, followed by a max-pool) in order."""
        side, c_in, found = self.knobs(size)["image"], 3, []
        for stage, (count, c_out) in enumerate(
                zip(CONVS_PER_STAGE, self.knobs(size)["channels"], strict=True), start=1):
            for index in range(1, count + 1):
                found.append((f"conv{stage}_{index}", c_in, c_out, side, index == count))
                c_in = c_out
            side //= 2
        return found

    def flatten_shape(self, size: str) -> tuple[int, int, int]:
        """(C, H, W) of the feature map that is flattened into the first dense layer."""
        side = self.knobs(size)["image"] // 2 ** len(CONVS_PER_STAGE)
        return self.knobs(size)["channels"][-1], side, side

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        for conv, c_in, c_out, _, _ in self.convs(size):
            shapes[f"{conv}.kernel"] = (c_out, c_in, 3, 3)
            shapes[f"{conv}.bias"] = (c_out,)
        return {**shapes, **self.head_shapes(size)}

    def forward_flops(self, size: str) -> int:
        total = sum(flops.conv2d(c_in, c_out, 3, side, side)
                    for _, c_in, c_out, side, _ in self.convs(size))
        return total + self.head_flops(size)


WORKLOAD = Vgg19()
