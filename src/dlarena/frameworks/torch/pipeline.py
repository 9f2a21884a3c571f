"""PyTorch's input pipeline: a map-style Dataset decoding with Pillow (as torchvision's
ImageFolder does), a Sampler giving the epoch's order, and `torch.utils.data.DataLoader`
with `workers` loader processes (0: in the calling process), persistent across epochs,
pinned memory when the model is on a GPU.

torchvision does not import beside this CPU build of torch, so its transforms are written
out here: the crop, resize and flip of `data.augment.decode_with_pillow`, then
`torch.from_numpy` to CHW, as `ToTensor` and `Normalize` would give.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlarena.contract.pipeline import JPEG, InputPipeline, PipelineSpec
from dlarena.data import augment

FORMATS = (JPEG,)


class TorchPipeline(InputPipeline):
    def __init__(self, spec: PipelineSpec) -> None:
        super().__init__(spec)
        import torch
        from torch.utils.data import DataLoader, Dataset, Sampler

        folder = spec.folder

        class Files(Dataset[tuple[Any, int]]):
            def __getitem__(self, key: tuple[int, int]) -> tuple[Any, int]:
                epoch, index = key
                draw = augment.sample_draw(spec.seed, epoch, index, folder.side,
                                           augmented=spec.augment)
                pixels = augment.decode_with_pillow(folder.files[index], draw, spec.side,
                                                    delay_seconds=spec.decode_delay_seconds)
                return torch.from_numpy(pixels).permute(2, 0, 1), folder.labels[index]

            def __len__(self) -> int:
                return len(folder)

        pipeline = self

        class EpochOrder(Sampler[tuple[int, int]]):
            """(epoch, index) keys: the Dataset draws each sample's crop from both."""

            def __iter__(self) -> Iterator[tuple[int, int]]:
                epoch = pipeline.current_epoch
                for index in augment.order(spec.seed, epoch, len(folder)):
                    yield epoch, int(index)

            def __len__(self) -> int:
                return len(folder)

        self.current_epoch = 0
        self._torch = torch
        self._pin = spec.device == "gpu"
        self._loader = DataLoader(
            Files(), batch_size=spec.batch_size, sampler=EpochOrder(), drop_last=True,
            num_workers=spec.workers, persistent_workers=spec.workers > 0,
            pin_memory=self._pin)

    def epoch(self, epoch: int) -> Iterator[Any]:
        # The sampler runs in this process when an epoch's iterator starts, even with
        # persistent workers, so it reads the epoch set here.
        self.current_epoch = epoch
        yield from self._loader

    def to_numpy(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        images, labels = batch
        return images.contiguous().numpy(), labels.numpy().astype(np.int64)

    def model_batch(self, batch: Any, impl: Any) -> Any:
        images, labels = batch
        device = impl.runtime.torch_device
        images = images.to(device, non_blocking=self._pin)
        if impl.channels_last():
            images = images.contiguous(memory_format=self._torch.channels_last)
        return images, labels.to(device, non_blocking=self._pin)

    def settings(self) -> dict[str, Any]:
        return {"loader": "torch.utils.data.DataLoader", "loader_workers": self.spec.workers,
                "persistent_workers": self.spec.workers > 0, "pin_memory": self._pin,
                "decoder": "Pillow (libjpeg-turbo, accurate integer IDCT)"}

    def close(self) -> None:
        # Persistent workers stop when the loader's iterator is collected.
        self._loader = None  # type: ignore[assignment]


PIPELINE = TorchPipeline
