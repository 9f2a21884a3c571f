"""The generated image files: deterministic, generated once, checked on every load; and the
random draws every pipeline shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dlarena.data import augment
from dlarena.data.dataset import DatasetUnavailable
from dlarena.data.imagefiles import (
    CLASSES,
    FILES_BY_SIDE,
    ImageFolder,
    derived_files,
    image,
    image_folder,
    source_side,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> ImageFolder:
    return image_folder(32, root=tmp_path_factory.mktemp("images"))


def test_the_set_is_jpeg_files_in_one_folder_per_class(folder: ImageFolder) -> None:
    assert len(folder) == FILES_BY_SIDE[32]
    assert sorted(set(folder.labels)) == list(range(CLASSES))
    for path, label in zip(folder.files, folder.labels, strict=True):
        assert path.parent.name == f"class_{label:02d}"
        assert path.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG's start-of-image marker


def test_a_second_load_reuses_the_files(folder: ImageFolder) -> None:
    before = folder.files[0].stat().st_mtime_ns
    again = image_folder(32, root=folder.root.parent)
    assert again.digest == folder.digest and again.files[0].stat().st_mtime_ns == before


def test_generation_is_deterministic(tmp_path: Path) -> None:
    assert np.array_equal(image(32, 3, 7), image(32, 3, 7))
    assert not np.array_equal(image(32, 3, 7), image(32, 3, 8))
    # Byte for byte, in another folder: the digest is the files', not the path's.
    first = image_folder(32, root=tmp_path / "a")
    assert image_folder(32, root=tmp_path / "b").digest == first.digest


def test_a_damaged_file_is_refused_with_the_fix(tmp_path: Path) -> None:
    folder = image_folder(32, root=tmp_path)
    victim = folder.files[5]
    victim.write_bytes(victim.read_bytes()[:-10])
    with pytest.raises(DatasetUnavailable, match=f"delete {folder.root}"):
        image_folder(32, root=tmp_path)


def test_derived_files_are_written_once_and_checked(folder: ImageFolder) -> None:
    calls = []

    def write(source: ImageFolder, target: Path) -> None:
        calls.append(target)
        (target / "shard-0").write_bytes(b"".join(p.read_bytes() for p in source.files[:4]))

    shards = derived_files(folder, "test", write)
    assert derived_files(folder, "test", write) == shards and len(calls) == 1
    shards[0].write_bytes(b"changed")
    with pytest.raises(DatasetUnavailable):
        derived_files(folder, "test", write)


def test_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="valid: 32, 224"):
        image_folder(64)
    assert (source_side(32), source_side(64), source_side(224), source_side(512)) == (
        32, 224, 224, 224)


def test_an_epoch_is_a_seeded_permutation() -> None:
    first = augment.order(0, 0, 100)
    assert sorted(first) == list(range(100))
    assert np.array_equal(first, augment.order(0, 0, 100))
    assert not np.array_equal(first, augment.order(0, 1, 100))
    assert not np.array_equal(first, augment.order(1, 0, 100))


def test_crops_follow_the_random_resized_crop_rule() -> None:
    draws = [augment.draw(0, 0, index, 224, 224) for index in range(500)]
    for d in draws:
        assert d.top >= 0 and d.top + d.height <= 224 and d.left >= 0 and d.left + d.width <= 224
        area = d.height * d.width / 224**2
        assert augment.SCALE[0] * 0.95 <= area <= augment.SCALE[1]
    flips = sum(d.flip for d in draws)
    assert 200 < flips < 300
    assert augment.draw(0, 0, 3, 224, 224) == draws[3]
    assert augment.sample_draw(0, 0, 3, 32, augmented=False) == augment.Draw(0, 0, 32, 32, False)


def test_decoding_without_augmentation_normalises_the_file_pixels(folder: ImageFolder) -> None:
    from PIL import Image

    pixels = augment.decode_with_pillow(folder.files[0], augment.whole(32, 32), 32)
    raw = np.asarray(Image.open(folder.files[0]).convert("RGB"))
    expected = (raw / np.float32(255) - np.float32(augment.MEAN)) / np.float32(augment.STD)
    assert pixels.dtype == np.float32 and np.allclose(pixels, expected, atol=1e-6)
