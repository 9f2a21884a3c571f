"""The JAX ecosystem's input pipeline: Grain, from JPEG files or from ArrayRecord shards.

A `grain.MapDataset` over every (epoch, position) of the run: the position's file comes
from `data.augment.order`, its crop box and flip from `data.augment.draw`, decoded with
Pillow and cropped, resized and flipped as `data.augment.decode_with_pillow` does (Grain
leaves decoding to the user; Pillow is the usual choice), batched with the last partial
batch of each epoch dropped. `workers` 0 iterates in the calling process; N >= 1 prefetches
batches from N worker processes (`mp_prefetch`). Batches come out as NumPy arrays in the
canonical NCHW layout, which the model's `to_device` places on its device.

ArrayRecord shards (written once from the files with `array_record`'s writer; record k is
file k: its label as 8 little-endian bytes, then its JPEG bytes) are read by Grain's
`ArrayRecordDataSource` with random access, so they give the same images in the same order
as the files.
"""

from __future__ import annotations

import functools
import io
import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlarena.contract.pipeline import JPEG, RECORDS, InputPipeline, PipelineSpec
from dlarena.data import augment
from dlarena.data.imagefiles import ImageFolder, derived_files

FORMATS = (JPEG, RECORDS)
SHARDS = 4
# The dataset spans this many epochs; a measurement reads a few.
EPOCHS = 100_000
_LABEL = struct.Struct("<q")


@dataclass
class _Load:
    """Position k of the run -> (image CHW float32, label): picklable, for worker processes."""

    files: tuple[Path, ...]
    labels: tuple[int, ...]
    records: tuple[Path, ...]
    source_side: int
    side: int
    seed: int
    augmented: bool
    kept: int
    delay_seconds: float

    @functools.cached_property
    def _source(self) -> Any:
        import grain

        return grain.sources.ArrayRecordDataSource([str(path) for path in self.records])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_source", None)  # an open reader stays in its process
        return state

    def __call__(self, position: int) -> tuple[np.ndarray, int]:
        epoch, offset = divmod(int(position), self.kept)
        index = int(_order(self.seed, epoch, len(self.files))[offset])
        draw = augment.sample_draw(self.seed, epoch, index, self.source_side,
                                   augmented=self.augmented)
        if self.records:
            record = self._source[index]
            label = _LABEL.unpack_from(record)[0]
            pixels = augment.decode_with_pillow(io.BytesIO(record[_LABEL.size:]), draw, self.side,
                                                delay_seconds=self.delay_seconds)
        else:
            label = self.labels[index]
            pixels = augment.decode_with_pillow(self.files[index], draw, self.side,
                                                delay_seconds=self.delay_seconds)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)), label


@functools.lru_cache(maxsize=4)
def _order(seed: int, epoch: int, count: int) -> np.ndarray:
    return augment.order(seed, epoch, count)


class GrainPipeline(InputPipeline):
    def __init__(self, spec: PipelineSpec) -> None:
        super().__init__(spec)
        import grain

        folder = spec.folder
        kept = spec.batches_per_epoch * spec.batch_size
        self._records = (derived_files(folder, "arrayrecord", _write_array_records)
                         if spec.file_format == RECORDS else ())
        load = _Load(folder.files, folder.labels, self._records, folder.side, spec.side,
                     spec.seed, spec.augment, kept, spec.decode_delay_seconds)
        batches = (grain.MapDataset.range(kept * EPOCHS).map(load)
                   .batch(spec.batch_size, drop_remainder=True).to_iter_dataset())
        if spec.workers > 0:
            from absl import flags

            # Grain's worker processes read its absl flags, which only an absl `app.run`
            # parses; outside one, the defaults are what there is to read.
            if not flags.FLAGS.is_parsed():
                flags.FLAGS.mark_as_parsed()
            batches = batches.mp_prefetch(grain.MultiprocessingOptions(num_workers=spec.workers))
        self._iterator = iter(batches)
        self._next_epoch = 0

    def epoch(self, epoch: int) -> Iterator[Any]:
        if epoch != self._next_epoch:
            raise ValueError(f"Grain streams epochs in order: asked for {epoch}, "
                             f"next is {self._next_epoch}")
        self._next_epoch += 1
        yield from itertools.islice(self._iterator, self.spec.batches_per_epoch)

    def to_numpy(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        images, labels = batch
        return np.asarray(images, np.float32), np.asarray(labels, np.int64)

    def settings(self) -> dict[str, Any]:
        spec = self.spec
        return {"loader": "grain.MapDataset", "file_format": spec.file_format,
                "loader_workers": spec.workers,
                "prefetch": "mp_prefetch" if spec.workers else "none",
                "decoder": "Pillow (libjpeg-turbo, accurate integer IDCT)"}

    def close(self) -> None:
        self._iterator = iter(())  # worker processes stop with their iterator

    def records(self) -> tuple[Path, ...]:
        return self._records


def _write_array_records(source: ImageFolder, target: Path) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    per_shard = -(-len(source) // SHARDS)
    for shard in range(SHARDS):
        writer = ArrayRecordWriter(
            str(target / f"images-{shard:05d}-of-{SHARDS:05d}.array_record"), "group_size:1")
        try:
            for index in range(shard * per_shard, min(len(source), (shard + 1) * per_shard)):
                writer.write(_LABEL.pack(source.labels[index]) + source.files[index].read_bytes())
        finally:
            writer.close()


PIPELINE = GrainPipeline
