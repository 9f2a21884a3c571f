"""TensorFlow's input pipeline: `tf.data`, from JPEG files or from TFRecord shards.

JPEG files: the epoch's order and each sample's crop box and flip come from
`data.augment` (one table per epoch, from a generator), then `tf.io.read_file`,
`tf.io.decode_jpeg` (accurate integer IDCT, as Pillow decodes: TensorFlow's default, the
fast IDCT, gives other pixels), crop, bilinear resize with antialiasing, flip, normalise.
TFRecord shards (made once from the files by `tf.io.TFRecordWriter`, one `tf.train.Example`
per image holding its JPEG bytes, label and file index): read interleaved, shuffled in a
buffer of the whole epoch, crop and flip drawn by TensorFlow's stateless random ops from
(seed, epoch, file index): the same work, but not the same boxes or order as the files.

`workers` 0 maps in sequence without prefetching; N >= 1 gives tf.data a private thread
pool of N threads, parallel map and prefetch with AUTOTUNE. Cache off.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dlarena.contract.pipeline import JPEG, RECORDS, InputPipeline, PipelineSpec
from dlarena.data import augment
from dlarena.data.imagefiles import ImageFolder, derived_files

FORMATS = (JPEG, RECORDS)
SHARDS = 8


class TensorflowPipeline(InputPipeline):
    def __init__(self, spec: PipelineSpec) -> None:
        super().__init__(spec)
        import tensorflow as tf

        self._tf = tf
        self._shards: tuple[Path, ...] = ()
        if spec.file_format == RECORDS:
            self._shards = derived_files(spec.folder, "tfrecord", _write_tfrecords)
            samples = self._records()
        else:
            samples = self._files()
        parallel = tf.data.AUTOTUNE if spec.workers > 0 else None
        dataset = samples.map(self._transform, num_parallel_calls=parallel)
        dataset = dataset.batch(spec.batch_size, drop_remainder=True)
        if spec.workers > 0:
            dataset = dataset.prefetch(tf.data.AUTOTUNE)
        options = tf.data.Options()
        options.threading.private_threadpool_size = max(spec.workers, 1)
        options.autotune.enabled = spec.workers > 0
        self._iterator = iter(dataset.with_options(options))
        self._next_epoch = 0
        self._model_wants_nchw: bool | None = None

    def _files(self) -> Any:
        """(file index, top, left, height, width, flip) in each epoch's order."""
        tf, spec = self._tf, self.spec
        folder = spec.folder
        kept = spec.batches_per_epoch * spec.batch_size  # the last partial batch is dropped

        def tables() -> Iterator[tuple[np.ndarray, ...]]:
            for epoch in itertools.count():
                order = augment.order(spec.seed, epoch, len(folder))[:kept]
                draws = [augment.sample_draw(spec.seed, epoch, int(i), folder.side,
                                             augmented=spec.augment) for i in order]
                yield (order.astype(np.int64),
                       *(np.array([getattr(d, key) for d in draws], np.int64)
                         for key in ("top", "left", "height", "width", "flip")))

        column = tf.TensorSpec([None], tf.int64)
        paths = tf.constant([str(path) for path in folder.files])
        labels = tf.constant(folder.labels, tf.int64)

        def read(index: Any, *box: Any) -> Any:
            return tf.io.read_file(tf.gather(paths, index)), tf.gather(labels, index), box

        return (tf.data.Dataset.from_generator(tables, output_signature=(column,) * 6)
                .flat_map(lambda *columns: tf.data.Dataset.from_tensor_slices(columns))
                .map(lambda index, *box: read(index, *box)))

    def _records(self) -> Any:
        tf, spec = self._tf, self.spec
        kept = spec.batches_per_epoch * spec.batch_size
        features = {"image": tf.io.FixedLenFeature([], tf.string),
                    "label": tf.io.FixedLenFeature([], tf.int64),
                    "index": tf.io.FixedLenFeature([], tf.int64)}
        shards = [str(path) for path in self._shards]
        reads = tf.data.AUTOTUNE if spec.workers > 0 else None

        def parse(position: Any, record: Any) -> Any:
            example = tf.io.parse_single_example(record, features)
            box = self._stateless_box(example["index"], position // kept)
            return example["image"], example["label"], box

        # Each pass over the shards reshuffles (reshuffle_each_iteration); a sample's epoch
        # is its position in the stream over the epoch's length.
        records = tf.data.TFRecordDataset(shards, num_parallel_reads=reads)
        return (records.shuffle(len(spec.folder), seed=spec.seed, reshuffle_each_iteration=True)
                .take(kept).repeat().enumerate().map(parse))

    def _stateless_box(self, index: Any, epoch: Any) -> tuple[Any, ...]:
        tf, spec = self._tf, self.spec
        side = spec.folder.side
        if not spec.augment:
            return tuple(tf.constant(v, tf.int64) for v in (0, 0, side, side, 0))
        seed = tf.stack([tf.constant(spec.seed, tf.int64) * 65_537 + epoch, index])
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            [side, side, 3], tf.zeros([1, 0, 4]), seed=seed, area_range=augment.SCALE,
            aspect_ratio_range=augment.RATIO, max_attempts=10,
            use_image_if_no_bounding_boxes=True)
        flip = tf.cast(tf.random.stateless_uniform([], seed=seed + 1) < 0.5, tf.int64)
        return (tf.cast(begin[0], tf.int64), tf.cast(begin[1], tf.int64),
                tf.cast(size[0], tf.int64), tf.cast(size[1], tf.int64), flip)

    def _transform(self, data: Any, label: Any, box: tuple[Any, ...]) -> Any:
        tf, spec = self._tf, self.spec
        if spec.decode_delay_seconds:
            delay = spec.decode_delay_seconds

            def sleep(value: bytes) -> bytes:
                time.sleep(delay)  # planted slowness, for tests of the input-bound verdict
                return value

            data = tf.numpy_function(sleep, [data], tf.string, stateful=True)
            data.set_shape([])
        pixels = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE")
        top, left, height, width, flip = (tf.cast(value, tf.int32) for value in box)
        if spec.augment or spec.folder.side != spec.side:
            pixels = tf.image.crop_to_bounding_box(pixels, top, left, height, width)
            pixels = tf.image.resize(pixels, [spec.side, spec.side], method="bilinear",
                                     antialias=True)
            pixels = tf.cond(flip > 0, lambda: tf.reverse(pixels, [1]), lambda: pixels)
        else:
            pixels.set_shape([spec.side, spec.side, 3])
        scaled = tf.cast(pixels, tf.float32) / 255.0
        images = (scaled - tf.constant(augment.MEAN)) / tf.constant(augment.STD)
        return images, label

    def epoch(self, epoch: int) -> Iterator[Any]:
        if epoch != self._next_epoch:
            raise ValueError(f"tf.data streams epochs in order: asked for {epoch}, "
                             f"next is {self._next_epoch}")
        self._next_epoch += 1
        for _ in range(self.spec.batches_per_epoch):
            yield next(self._iterator)

    def to_numpy(self, batch: Any) -> tuple[np.ndarray, np.ndarray]:
        images, labels = batch
        return (np.ascontiguousarray(images.numpy().transpose(0, 3, 1, 2)),
                labels.numpy().astype(np.int64))

    def model_batch(self, batch: Any, impl: Any) -> Any:
        images, labels = batch
        if self._model_wants_nchw is None:
            probe = np.zeros((1, 3, 2, 2), np.float32)
            self._model_wants_nchw = impl.native_inputs(probe).shape != (1, 2, 2, 3)
        if self._model_wants_nchw:
            images = self._tf.transpose(images, [0, 3, 1, 2])
        with self._tf.device(impl.runtime.tf_device):
            return self._tf.identity(images), self._tf.identity(labels)

    def settings(self) -> dict[str, Any]:
        spec = self.spec
        return {"loader": "tf.data", "file_format": spec.file_format,
                "map_parallelism": "AUTOTUNE" if spec.workers else "sequential",
                "prefetch": "AUTOTUNE" if spec.workers else "none",
                "private_threadpool_size": max(spec.workers, 1), "cache": "off",
                "decoder": "tf.io.decode_jpeg (INTEGER_ACCURATE)"}

    def records(self) -> tuple[Path, ...]:
        return self._shards


def _write_tfrecords(source: ImageFolder, target: Path) -> None:
    import tensorflow as tf

    def feature(**values: Any) -> Any:
        return tf.train.Features(feature={
            name: (tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
                   if isinstance(value, bytes)
                   else tf.train.Feature(int64_list=tf.train.Int64List(value=[value])))
            for name, value in values.items()})

    writers = [tf.io.TFRecordWriter(str(target / f"images-{shard:05d}-of-{SHARDS:05d}.tfrecord"))
               for shard in range(SHARDS)]
    try:
        for index, (path, label) in enumerate(zip(source.files, source.labels, strict=True)):
            example = tf.train.Example(features=feature(
                image=path.read_bytes(), label=label, index=index))
            writers[index % SHARDS].write(example.SerializeToString())
    finally:
        for writer in writers:
            writer.close()


PIPELINE = TensorflowPipeline
