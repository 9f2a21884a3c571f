"""The data-loading scenarios, run inside the worker (stdlib and NumPy only).

`dataload`: a framework's input pipeline alone, reading the generated image files: images
per second, the peak resident memory of the worker and its loader processes while loading,
and CPU seconds per image (the worker's and the loader processes' together).

`train-from-files`: the workload's training step fed by that pipeline, each loader-worker
count in worker processes of its own, replicated in rounds like every cell. Its baseline is
the `train` scenario's cell of the same workload, framework and batch (the step fed from
batches in memory), measured in the same rounds by its own processes: the report pairs them
round by round and says "input-bound" where the interval of files / memory lies below
INPUT_BOUND_RATIO (report/dataload.py). Until December 2026 both were timed in one process in
alternating windows, while the loader workers went on prefetching during the in-memory
windows: one process said nothing of the spread between processes, and prefetching flattered
the files' rate.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dlarena import registry
from dlarena.cell import CellSpec
from dlarena.contract import Implementation, Runtime, Workload
from dlarena.contract.pipeline import JPEG, InputPipeline, PipelineSpec
from dlarena.data.imagefiles import image_folder, source_side
from dlarena.isolation import processes
from dlarena.scenarios.pipelines import (
    AUGMENT_OPTION,
    DELAY_OPTION,
    FORMAT_OPTION,
    WORKERS_OPTION,
)
from dlarena.worker.parts import ScenarioResult
from dlarena.worker.timing import (
    Progress,
    TimingResult,
    measure,
)


def image_side(workload: Workload, size: str) -> int:
    """The side of the workload's square images; a clear error for other workloads."""
    shape = workload.synthetic_batch(np.random.default_rng(0), 1, size)[0].shape
    if len(shape) != 4 or shape[1] != 3 or shape[2] != shape[3]:
        raise ValueError(f"{workload.name} takes inputs of shape {shape[1:]}, not square "
                         "RGB images: the data scenarios feed image workloads only")
    return int(shape[2])


def open_pipeline(workload: Workload, cell: CellSpec) -> InputPipeline:
    pipeline_class = registry.pipeline_class(cell.framework)
    side = image_side(workload, cell.size)
    spec = PipelineSpec(
        folder=image_folder(source_side(side)),
        file_format=str(cell.options.get(FORMAT_OPTION, JPEG)),
        side=side,
        batch_size=cell.batch_size,
        workers=int(cell.options.get(WORKERS_OPTION, 0)),
        seed=cell.seed,
        augment=bool(cell.options.get(AUGMENT_OPTION, True)),
        device=cell.device,
        decode_delay_seconds=float(cell.options.get(DELAY_OPTION, 0.0)),
    )
    return pipeline_class(spec)


def endless(pipeline: InputPipeline) -> Iterator[Any]:
    """Batches of epoch 0, 1, 2, ... without end."""
    for epoch in itertools.count():
        yield from pipeline.epoch(epoch)


def tree_rss_bytes() -> int:
    """Resident memory of this process and every process below it (loader workers), now."""
    total = 0
    for pid in processes.tree(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/statm").read_text().split()
        except OSError:
            continue
        total += int(fields[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def tree_cpu_seconds() -> float:
    """CPU time (user + system) used so far by this process and the processes below it."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in processes.tree(os.getpid()):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


class _PeakRss:
    """Samples the tree's resident memory whenever the timing loop reports progress."""

    def __init__(self, progress: Progress) -> None:
        self.peak = tree_rss_bytes()
        self._progress = progress

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.peak = max(self.peak, tree_rss_bytes())
        self._progress(phase, done, total)


def _images(timing: TimingResult, batch_size: int) -> int:
    steps = 1 + sum(w.steps for w in (*timing.warmup, *timing.windows))
    return steps * batch_size


def run_dataload(impl: Implementation, runtime: Runtime, workload: Workload, cell: CellSpec,
                 progress: Progress) -> ScenarioResult:
    progress("open files", 0, 1)
    started = time.perf_counter()
    pipeline = open_pipeline(workload, cell)
    open_seconds = time.perf_counter() - started
    try:
        batches = endless(pipeline)
        sampler = _PeakRss(progress)
        cpu_before = tree_cpu_seconds()
        timing = measure(lambda: next(batches), lambda _: None, cell.measure, progress=sampler)
        cpu_seconds = tree_cpu_seconds() - cpu_before
        sampler("done", 1, 1)
    finally:
        pipeline.close()
    return ScenarioResult(timing.first_step_seconds, timing, extra_metrics={
        "pipeline_open_seconds": open_seconds,
        "peak_rss_loading_bytes": float(sampler.peak),
        "cpu_seconds_per_image": cpu_seconds / _images(timing, cell.batch_size),
    }, manifest=_manifest(pipeline))


def _manifest(pipeline: InputPipeline) -> dict[str, Any]:
    spec = pipeline.spec
    return {**pipeline.settings(), "image_files": str(spec.folder.root),
            "image_files_digest": spec.folder.digest, "image_side": spec.side,
            "augment": spec.augment, "record_shards": len(pipeline.records())}


def run_train_from_files(impl: Implementation, runtime: Runtime, workload: Workload,
                         cell: CellSpec, progress: Progress) -> ScenarioResult:
    impl.prepare(training=True)
    progress("open files", 0, 1)
    pipeline = open_pipeline(workload, cell)
    try:
        batches = endless(pipeline)
        sampler = _PeakRss(progress)
        timing = measure(lambda: impl.train_step(pipeline.model_batch(next(batches), impl)),
                         runtime.sync, cell.measure, progress=sampler)
    finally:
        pipeline.close()
    return ScenarioResult(
        timing.first_step_seconds, timing,
        extra_metrics={**impl.compilation_stats(),
                       "peak_rss_loading_bytes": float(sampler.peak)},
        manifest=_manifest(pipeline))
