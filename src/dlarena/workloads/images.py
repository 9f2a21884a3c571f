"""What the ImageNet-style workloads share: NCHW float32 images and integer class labels."""

from __future__ import annotations

import numpy as np

from dlarena.workloads.base import Workload


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
