"""The interface of a framework's input pipeline: files on disk -> batches a model trains on.

`frameworks/<name>/pipeline.py` defines `PIPELINE`, a subclass of `InputPipeline`, and
`FORMATS`, the file formats it reads. The module imports its framework only inside methods:
the coordinator reads `FORMATS` to plan cells.

Every pipeline does the same work, each in its framework's idiom: read the files of an
epoch in the order `data.augment.order` gives, decode the JPEG (libjpeg's accurate integer
IDCT), cut the crop box `data.augment.draw` gives and resize it to `side` (bilinear), flip
when drawn, scale to [0, 1] and normalise with ImageNet's mean and std, batch (the last
partial batch dropped), and prefetch. Without augmentation a batch is the whole image,
unresized when the files are already `side` x `side`: then every pipeline delivers the
same bits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlarena.data.imagefiles import ImageFolder

# File formats a pipeline may read: JPEG files in class folders, or the framework's own
# record shards made from them (TFRecord, ArrayRecord, ...).
JPEG = "jpeg"
RECORDS = "records"


@dataclass(frozen=True)
class PipelineSpec:
    folder: ImageFolder
    file_format: str
    side: int
    batch_size: int
    # Loader processes or threads beside the caller; 0: everything in the caller.
    workers: int
    seed: int
    augment: bool
    device: str
    # Planted slowness (tests): seconds every decode sleeps. Part of the cell's identity.
    decode_delay_seconds: float = 0.0

    @property
    def batches_per_epoch(self) -> int:
        return len(self.folder) // self.batch_size


class InputPipeline(ABC):
    """One framework's loader over `spec.folder`; the scenario drives it epoch by epoch."""

    def __init__(self, spec: PipelineSpec) -> None:
        if spec.batches_per_epoch < 1:
            raise ValueError(f"batch size {spec.batch_size} exceeds the {len(spec.folder)} "
                             f"files of {spec.folder.root}")
        self.spec = spec

    @abstractmethod
    def epoch(self, epoch: int) -> Iterator[Any]:
        """The batches of one epoch, in the framework's own form."""

    @abstractmethod
    def to_numpy(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        """A batch as canonical NCHW float32 images and int64 labels."""

    def model_batch(self, batch: Any, impl: Any) -> Any:
        """The batch as `impl.train_step` takes it; pipelines that deliver the model's own
        layout on its device override this to skip the copy."""
        return impl.to_device(*self.to_numpy(batch))

    def settings(self) -> dict[str, Any]:
        """How the loader was set up, for the fairness manifest."""
        return {}

    def close(self) -> None:  # noqa: B027 - a hook: most pipelines have nothing to stop
        """Stop loader processes or threads."""

    def records(self) -> tuple[Path, ...]:
        """Record shards this pipeline reads (empty: it reads the JPEG files)."""
        return ()
