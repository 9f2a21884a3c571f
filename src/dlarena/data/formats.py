"""File formats of the shipped data sets: IDX, the classic MNIST pickle, RecBole's .inter.

Read with the standard library and NumPy alone: the formats are simple enough that no
library is worth depending on, and the worker may load data before importing a framework.
"""

from __future__ import annotations

import codecs
import gzip
import importlib
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dlarena.data.dataset import Dataset
from dlarena.data.splits import leave_one_out

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> npt.NDArray[Any]:
    """Read an IDX file (gzipped or not) into an array of its declared shape, native order.

    The format is two zero bytes, a type code, the number of dimensions, then each dimension
    as a big-endian uint32, then the data: simple enough that no library is worth depending on.
    """
    raw = read_maybe_gzip(path)
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


def read_maybe_gzip(path: Path) -> bytes:
    """Decide by content, not by name: a file that was gunzipped in place keeps working."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


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


def read_mnist_pickle(path: Path) -> Dataset:
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
    return leave_one_out(
        [row[user_col] for row in rows],
        [row[item_col] for row in rows],
        [row[time_col] for row in rows],
        source=str(path),
    )
