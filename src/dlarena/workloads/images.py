"""What the ImageNet-style workloads share: NCHW float32 images and integer class labels."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from dlarena.contract import Shape, Workload
from dlarena.workloads import flops


class ImageClassifier(Workload):
    """A classifier of 3 x side x side images; sizes set the knobs `image` and `classes`."""

    unit = "images"

    def synthetic_batch(
        self, rng: np.random.Generator, batch_size: int, size: str
    ) -> tuple[np.ndarray, np.ndarray]:
        side = self.knobs(size)["image"]
        inputs = rng.standard_normal((batch_size, 3, side, side), dtype=np.float32)
        labels = rng.integers(0, self.knobs(size)["classes"], size=batch_size, dtype=np.int64)
        return inputs, labels


class DenseHeadClassifier(ImageClassifier):
    """Convolutions, then the 2012-era head: flatten, fc6 and fc7 with ReLU, classifier fc8.

    AlexNet and VGG-19 share it; sizes set the knob `hidden` (fc6 and fc7 width).
    """

    HIDDEN = ("fc6", "fc7")
    CLASSIFIER = "fc8"

    @abstractmethod
    def flatten_shape(self, size: str) -> tuple[int, int, int]:
        """(C, H, W) of the feature map that is flattened into fc6, in canonical order."""

    def dense_features(self, size: str) -> list[tuple[str, int, int]]:
        """(name, in, out) of each dense layer, classifier last."""
        knobs = self.knobs(size)
        flat, hidden = int(np.prod(self.flatten_shape(size))), knobs["hidden"]
        return [(self.HIDDEN[0], flat, hidden), (self.HIDDEN[1], hidden, hidden),
                (self.CLASSIFIER, hidden, knobs["classes"])]

    def head_shapes(self, size: str) -> dict[str, Shape]:
        shapes: dict[str, Shape] = {}
        for dense, n_in, n_out in self.dense_features(size):
            shapes[f"{dense}.kernel"] = (n_in, n_out)
            shapes[f"{dense}.bias"] = (n_out,)
        return shapes

    def head_flops(self, size: str) -> int:
        return sum(flops.dense(n_in, n_out) for _, n_in, n_out in self.dense_features(size))
