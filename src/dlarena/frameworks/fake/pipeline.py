"""The fake framework's input pipeline: Pillow and NumPy in the calling process, one file
at a time, so the data-loading scenarios are testable without a framework."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlarena.contract.pipeline import JPEG, InputPipeline
from dlarena.data import augment

FORMATS = (JPEG,)


class FakePipeline(InputPipeline):
    def epoch(self, epoch: int) -> Iterator[Any]:
        spec, folder = self.spec, self.spec.folder
        indices = augment.order(spec.seed, epoch, len(folder))
        for start in range(0, spec.batches_per_epoch * spec.batch_size, spec.batch_size):
            chosen = indices[start:start + spec.batch_size]
            images = [augment.decode_with_pillow(
                folder.files[i], augment.sample_draw(spec.seed, epoch, int(i), folder.side,
                                                    augmented=spec.augment),
                spec.side, delay_seconds=spec.decode_delay_seconds) for i in chosen]
            labels = np.array([folder.labels[i] for i in chosen], np.int64)
            yield np.stack(images).transpose(0, 3, 1, 2), labels

    def to_numpy(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        images, labels = batch
        return np.ascontiguousarray(images), labels


PIPELINE = FakePipeline
