"""Train/test splits that belong to a data set's protocol (NCF's leave-one-out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dlarena.data.dataset import Dataset


def leave_one_out(users: Any, items: Any, timestamps: Any, *, source: str) -> Dataset:
    """The NCF protocol: each user's latest interaction is the test positive.

    Ties on the timestamp go to the larger item id, so the split does not depend on file
    order. A user with a single interaction keeps it as the test positive and has no
    training rows.
    """
    user_ids, n_users = contiguous_ids(users)
    item_ids, n_items = contiguous_ids(items)
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


def contiguous_ids(tokens: Any) -> tuple[npt.NDArray[np.int64], int]:
    """0-based ids in the order of the raw ids: numeric order when every token is a number."""
    raw = np.asarray(tokens, dtype=str)
    try:
        keys: npt.NDArray[Any] = raw.astype(np.int64)
    except ValueError:
        keys = raw
    unique, inverse = np.unique(keys, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), len(unique)
