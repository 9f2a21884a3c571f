"""Every framework's input pipeline delivers the same images for the same seed: the same
bits without augmentation, the same crops and statistics with it; and a slow decode makes
real training input-bound."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dlarena import registry
from dlarena.contract.pipeline import JPEG, RECORDS, InputPipeline, PipelineSpec
from dlarena.data.imagefiles import ImageFolder, image_folder
from dlarena.engine.plan import Request
from dlarena.engine.runner import execute, prepare
from dlarena.executors.local import LocalExecutor
from dlarena.report import dataload as dataload_report
from dlarena.report.build import build_report
from dlarena.scenarios import pipelines
from dlarena.store import Store
from tests.conftest import RecordingObserver, require

# In-process pipelines start the frameworks: with the session's runtimes set up first, as the
# other in-process tests need them.
pytestmark = [pytest.mark.frameworks, pytest.mark.usefixtures("runtimes")]
REAL = ("torch", "tensorflow")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> ImageFolder:
    return image_folder(32, root=tmp_path_factory.mktemp("images"))


def _batches(framework: str, spec: PipelineSpec, count: int = 3) -> list[tuple[np.ndarray, ...]]:
    pipeline: InputPipeline = registry.pipeline_class(framework)(spec)
    try:
        epoch = pipeline.epoch(0)
        return [pipeline.to_numpy(next(epoch)) for _ in range(count)]
    finally:
        pipeline.close()


@pytest.mark.parametrize("workers", [0, 2])
def test_without_augmentation_every_pipeline_delivers_the_same_bits(
        folder: ImageFolder, workers: int) -> None:
    for framework in REAL:
        require(framework)
    spec = PipelineSpec(folder, JPEG, 32, 16, workers, seed=3, augment=False, device="cpu")
    reference = _batches("fake", spec)
    for framework in REAL:
        for (images, labels), (want_images, want_labels) in zip(
                _batches(framework, spec), reference, strict=True):
            assert images.shape == (16, 3, 32, 32) and images.dtype == np.float32
            assert np.array_equal(labels, want_labels), framework
            assert np.array_equal(images, want_images), framework


def test_with_augmentation_the_crops_agree_and_resizing_differs_little(
        folder: ImageFolder) -> None:
    for framework in REAL:
        require(framework)
    spec = PipelineSpec(folder, JPEG, 24, 16, 0, seed=5, augment=True, device="cpu")
    reference = _batches("fake", spec)
    torch_batches = _batches("torch", spec)
    tensorflow_batches = _batches("tensorflow", spec)
    for want, from_torch, from_tf in zip(reference, torch_batches, tensorflow_batches,
                                         strict=True):
        # PyTorch's pipeline resizes with Pillow, as the reference does: the same bits.
        assert np.array_equal(from_torch[0], want[0]) and np.array_equal(from_torch[1], want[1])
        # TensorFlow cuts the same boxes and flips, but resizes with its own kernel and
        # does not round to 8 bits: the same statistics, not the same bits.
        assert np.array_equal(from_tf[1], want[1])
        assert abs(float(from_tf[0].mean() - want[0].mean())) < 0.02
        assert float(np.abs(from_tf[0] - want[0]).mean()) < 0.05


def test_record_shards_hold_the_same_images_in_another_order(folder: ImageFolder) -> None:
    require("tensorflow")
    spec = PipelineSpec(folder, RECORDS, 32, 100, 1, seed=0, augment=False, device="cpu")
    count = len(folder) // 100
    from_records = _batches("tensorflow", spec, count)
    from_files = _batches("fake", dataclasses.replace(spec, file_format=JPEG), count)

    def by_content(batches: list[tuple[np.ndarray, ...]]) -> list[tuple[int, bytes]]:
        return sorted((int(label), image.tobytes()) for images, labels in batches
                      for image, label in zip(images, labels, strict=True))

    assert by_content(from_records) == by_content(from_files)
    assert not np.array_equal(from_records[0][1], from_files[0][1])  # shuffled otherwise


def test_augmented_record_shards_give_every_image_once_per_epoch(folder: ImageFolder) -> None:
    require("tensorflow")
    spec = PipelineSpec(folder, RECORDS, 24, 100, 0, seed=0, augment=True, device="cpu")
    pipeline: InputPipeline = registry.pipeline_class("tensorflow")(spec)
    epochs = [[pipeline.to_numpy(batch) for batch in pipeline.epoch(n)] for n in range(2)]
    for batches in epochs:
        assert sorted(np.concatenate([labels for _, labels in batches])) == sorted(folder.labels)
        assert all(images.shape == (100, 3, 24, 24) for images, _ in batches)
    assert not np.array_equal(epochs[0][0][1], epochs[1][0][1])  # reshuffled


def test_a_planted_slow_decode_makes_real_training_input_bound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require("torch")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    request = Request(suite="data", frameworks=["torch"], workloads=["cnn"], size="smoke",
                      scenarios=["train-from-files", "train"], windows=3,
                      min_window_seconds=0.1,
                      sweep={pipelines.WORKERS_OPTION: [0]}, check_parity=False)
    prepared = prepare(request, {})
    planted = [dataclasses.replace(p, cell=dataclasses.replace(
        p.cell, options={**p.cell.options, pipelines.DELAY_OPTION: 0.02}))
        for p in prepared.planned]
    store = Store.open(tmp_path / "r.db")
    summary = execute(dataclasses.replace(prepared, planned=planted), store=store,
                      executor=LocalExecutor(), observer=RecordingObserver())
    assert summary.failed == 0, [c.error for c in store.cells(summary.run_id)]
    [row] = dataload_report.train_rows(build_report(store))
    # 16 images x 20 ms: a step from files waits 0.32 s, whatever the model costs here.
    assert row[1] == "torch/eager" and row[-1] == "input-bound", str(row)




@pytest.mark.parametrize(("file_format", "workers"), [(JPEG, 0), (RECORDS, 0), (JPEG, 2)])
def test_grain_delivers_the_same_bits_from_files_and_array_records(
        folder: ImageFolder, file_format: str, workers: int) -> None:
    """Grain decodes with Pillow, as the reference does; ArrayRecord gives random access, so
    the records come in the files' order with the same crops."""
    require("grain")
    spec = PipelineSpec(folder, file_format, 24, 16, workers, seed=2, augment=True, device="cpu")
    reference = _batches("fake", dataclasses.replace(spec, file_format=JPEG), 2)
    for (images, labels), (want_images, want_labels) in zip(
            _batches("jax", spec, 2), reference, strict=True):
        assert np.array_equal(labels, want_labels) and np.array_equal(images, want_images)
