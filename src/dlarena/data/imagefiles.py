"""Image files on disk, as people train from them: JPEGs in one folder per class.

Two sets are generated deterministically (no download, no package data): `side` 224 (an
ImageNet-like size, 1,000 files) and `side` 32 (a CIFAR-like size, 2,000 files), ten classes
each. Each image is smooth class-tinted colour with pixel noise, so a JPEG is about as
costly to decode as a photograph of its size. Generated once into the cache, beside a
manifest with every file's SHA-256; each later load checks the files against it.

Files are written by Pillow (4:4:4 chroma, quality 90), which matplotlib already installs;
the pixels decode identically in libjpeg-turbo's accurate integer IDCT, whoever calls it.
Formats derived from these files (a framework's record shards) are kept beside them by
:func:`derived_files`, with the same generate-once, checksum-on-load rule.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dlarena.data.dataset import DatasetUnavailable
from dlarena.data.fetch import cache_dir

# Bump when the generator changes what it writes: a new folder, never a silent change.
GENERATOR_VERSION = 1
CLASSES = 10
FILES_BY_SIDE = {224: 1000, 32: 2000}
JPEG_QUALITY = 90
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ImageFolder:
    """Image files in class folders: `files[i]` has class `labels[i]`; `digest` fingerprints
    every byte of every file (store it with a result)."""

    root: Path
    side: int
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    digest: str

    def __len__(self) -> int:
        return len(self.files)


def images_root() -> Path:
    return cache_dir().parent / "images"


def source_side(side: int) -> int:
    """The generated set a pipeline crops `side` x `side` images from: the smallest that is
    at least as large, else the largest."""
    fitting = [s for s in sorted(FILES_BY_SIDE) if s >= side]
    return fitting[0] if fitting else max(FILES_BY_SIDE)


def image_folder(side: int, *, root: Path | None = None) -> ImageFolder:
    """The generated JPEG set of `side` x `side` images, generated on first use."""
    if side not in FILES_BY_SIDE:
        raise ValueError(f"no generated image set of side {side}; "
                         f"valid: {', '.join(map(str, sorted(FILES_BY_SIDE)))}")
    folder = (root or images_root()) / f"jpeg-{side}-v{GENERATOR_VERSION}"
    _generate_once(folder, lambda target: _write_jpegs(target, side))
    entries = _verified(folder)
    files = tuple(folder / name for name in entries)
    labels = tuple(int(Path(name).parent.name.removeprefix("class_")) for name in entries)
    return ImageFolder(folder, side, files, labels, _digest(entries))


def derived_files(source: ImageFolder, kind: str,
                  write: Callable[[ImageFolder, Path], None]) -> tuple[Path, ...]:
    """Files made from `source` by `write(source, folder)` (record shards, say), generated
    once into a folder beside it and checked against their manifest on every load."""
    folder = source.root.parent / f"{source.root.name}-{kind}-{source.digest[:12]}"
    _generate_once(folder, lambda target: write(source, target))
    return tuple(folder / name for name in _verified(folder))


def image(side: int, label: int, index: int) -> np.ndarray:
    """One generated image, (side, side, 3) uint8: a function of its arguments alone."""
    rng = np.random.default_rng([GENERATOR_VERSION, side, label, index])
    tint = np.array([(label * 0.1) % 1.0, 0.5, 0.8]) * 255
    coarse = rng.uniform(0.3, 1.0, size=(4, 4, 3)) * tint
    # Bilinear upsampling of a 4x4 grid: smooth content, as in a photograph.
    grid = np.linspace(0, 3, side)
    low = np.clip(np.floor(grid).astype(int), 0, 2)
    weight = grid - low
    rows = coarse[low] * (1 - weight)[:, None, None] + coarse[low + 1] * weight[:, None, None]
    smooth = rows[:, low] * (1 - weight)[None, :, None] + rows[:, low + 1] * weight[None, :, None]
    noisy = smooth + rng.normal(0.0, 8.0, size=smooth.shape)
    pixels: np.ndarray = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    return pixels


def _write_jpegs(target: Path, side: int) -> None:
    from PIL import Image

    per_class = FILES_BY_SIDE[side] // CLASSES
    for label in range(CLASSES):
        (target / f"class_{label:02d}").mkdir(parents=True)
        for index in range(per_class):
            buffer = io.BytesIO()
            Image.fromarray(image(side, label, index)).save(
                buffer, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
            (target / f"class_{label:02d}" / f"{index:05d}.jpg").write_bytes(buffer.getvalue())


def _generate_once(folder: Path, write: Callable[[Path], None]) -> None:
    """Write into a temporary folder, add the manifest, rename: a crash or a second worker
    generating at the same time never leaves half a set under the final name."""
    if (folder / MANIFEST).is_file():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        write(temporary)
        names = sorted(path.relative_to(temporary).as_posix()
                       for path in temporary.rglob("*") if path.is_file())
        manifest = {"generator_version": GENERATOR_VERSION,
                    "files": {name: _sha256(temporary / name) for name in names}}
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        try:
            os.rename(temporary, folder)
        except OSError:
            if not (folder / MANIFEST).is_file():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def _verified(folder: Path) -> dict[str, str]:
    """name -> SHA-256 of every file the manifest lists, each checked on disk."""
    entries: dict[str, str] = json.loads((folder / MANIFEST).read_text())["files"]
    for name, expected in entries.items():
        path = folder / name
        if not path.is_file() or _sha256(path) != expected:
            raise DatasetUnavailable(
                f"{path} is missing or differs from {folder / MANIFEST}; delete {folder} "
                "and it is generated again")
    return entries


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digest(entries: dict[str, str]) -> str:
    text = json.dumps(entries, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
