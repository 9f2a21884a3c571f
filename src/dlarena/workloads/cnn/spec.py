"""cnn: a small VGG-style net on 3x32x32 images.

conv-BN-ReLU, conv-BN-ReLU, max-pool, twice; then a ReLU dense layer and the classifier.
Convolutions are 3x3 with 'same' padding and no bias (BatchNorm follows). The canonical
flatten order is (channels, height, width); NHWC frameworks permute the first dense
kernel's rows when they load or export weights.
"""

from __future__ import annotations

import numpy as np

from dlarena.contract import Shape, SizeConfig, Workload
from dlarena.workloads import flops

IMAGE = (3, 32, 32)
CLASSES = 10
CONVS = ("conv1_1", "conv1_2", "conv2_1", "conv2_2")


class Cnn(Workload):
    name = "cnn"
    description = "VGG-style CNN (2x conv-conv-pool, BatchNorm) on 3x32x32, Adam lr 1e-3"
    datasets = ("fashion-mnist", "mnist")
    unit = "images"
    sizes = {  # noqa: RUF012 - class-level constant table
        "smoke": SizeConfig(
            batch_size=16, description="channels 8/16, dense 64, batch 16",
            knobs={"channels": (8, 16), "hidden": 64},
        ),
        "cpu": SizeConfig(
            batch_size=64, description="channels 32/64, dense 256, batch 64",
            knobs={"channels": (32, 64), "hidden": 256},
        ),
        "full": SizeConfig(
            batch_size=128, description="channels 64/128, dense 512, batch 128",
            knobs={"channels": (64, 128), "hidden": 512},
        ),
    }

    def from_dataset(self, dataset: str, inputs: np.ndarray) -> np.ndarray:
        """28x28 grey images, flattened -> 3x32x32: zero-padded by 2 pixels (as LeNet padded
        MNIST) and the grey channel repeated, so the benchmark's architecture trains unchanged."""
        images = inputs.reshape(-1, 1, 28, 28)
        padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
        return np.ascontiguousarray(np.repeat(padded, IMAGE[0], axis=1), dtype=np.float32)

    def conv_channels(self, size: str) -> list[tuple[int, int]]:
        """(in, out) channels of each convolution, in order."""
        first, second = self.knobs(size)["channels"]
        return [(IMAGE[0], first), (first, first), (first, second), (second, second)]

    def flatten_shape(self, size: str) -> tuple[int, int, int]:
        """(C, H, W) of the feature map that is flattened into the first dense layer."""
        second = self.knobs(size)["channels"][1]
        return second, IMAGE[1] // 4, IMAGE[2] // 4

    def parameter_shapes(self, size: str) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        for conv, (c_in, c_out) in zip(CONVS, self.conv_channels(size), strict=True):
            shapes[f"{conv}.kernel"] = (c_out, c_in, 3, 3)
            for stat in ("gamma", "beta", "moving_mean", "moving_variance"):
                shapes[f"{conv}_bn.{stat}"] = (c_out,)
        hidden = self.knobs(size)["hidden"]
        shapes["fc1.kernel"] = (int(np.prod(self.flatten_shape(size))), hidden)
        shapes["fc1.bias"] = (hidden,)
        shapes["out.kernel"] = (hidden, CLASSES)
        shapes["out.bias"] = (CLASSES,)
        return shapes

    def forward_flops(self, size: str) -> int:
        total, side = 0, IMAGE[1]
        for index, (c_in, c_out) in enumerate(self.conv_channels(size)):
            total += flops.conv2d(c_in, c_out, 3, side, side)
            if index % 2 == 1:
                side //= 2  # max-pool
        hidden = self.knobs(size)["hidden"]
        flat = int(np.prod(self.flatten_shape(size)))
        return total + flops.dense(flat, hidden) + flops.dense(hidden, CLASSES)

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        inputs = rng.standard_normal((batch_size, *IMAGE), dtype=np.float32)
        labels = rng.integers(0, CLASSES, size=batch_size, dtype=np.int64)
        return inputs, labels


WORKLOAD = Cnn()
