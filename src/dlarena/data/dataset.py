"""A data set in the form every framework adapter takes as is, and its fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt


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
