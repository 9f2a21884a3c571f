"""Convergence tasks: classification epochs and the NCF ranking protocol, on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

from dlarena.data import catalogue as datasets
from dlarena.data.tasks import Classification, Ranking, sigmoid_loss, softmax_scores


def interactions(users: int = 6, items: int = 150) -> datasets.Dataset:
    """Each user has seen items u, u+1, ..., u+4; the last is held out."""
    rows = np.array([(u, u + k) for u in range(users) for k in range(5)], dtype=np.int64)
    last = np.arange(len(rows)) % 5 == 4
    return datasets.Dataset(
        name="movielens-100k", source="memory",
        train_inputs=rows[~last], train_labels=np.ones(int((~last).sum()), np.int64),
        test_inputs=rows[last], test_labels=np.ones(int(last.sum()), np.int64),
        users=users, items=items)


def test_softmax_scores_and_sigmoid_loss_against_hand_values() -> None:
    loss, accuracy = softmax_scores(np.array([[0.0, 0.0], [2.0, 0.0]]), np.array([0, 1]))
    assert loss == pytest.approx((np.log(2) + (2 + np.log(1 + np.exp(-2)))) / 2)
    assert accuracy == 0.5
    assert sigmoid_loss(np.array([0.0, 100.0]), np.array([1.0, 1.0])) == pytest.approx(
        np.log(2) / 2)


def test_classification_epochs_are_permutations_set_by_the_seed() -> None:
    inputs, labels = np.arange(20.0).reshape(10, 2), np.arange(10)
    task = Classification((inputs, labels), (inputs, labels))
    first, again = task.epoch(np.random.default_rng(3)), task.epoch(np.random.default_rng(3))
    assert np.array_equal(first[0], again[0])
    assert sorted(first[1]) == list(range(10)) and not np.array_equal(first[1], labels)
    assert np.array_equal(first[0][:, 0] / 2, first[1])  # rows stay with their labels


def test_ranking_epochs_pair_positives_with_unseen_negatives() -> None:
    data = interactions()
    task = Ranking(data, negatives=4)
    inputs, labels = task.epoch(np.random.default_rng(0))
    assert len(labels) == 5 * len(data.train_inputs)
    assert labels.sum() == len(data.train_inputs) and labels.dtype == np.float32
    seen = {(u, u + k) for u in range(6) for k in range(5)}
    negatives = {tuple(row) for row in inputs[labels == 0]}
    assert not negatives & seen


def test_ranking_candidates_are_fixed_and_hold_the_test_item_first() -> None:
    data = interactions()
    a, b = Ranking(data), Ranking(data)
    assert np.array_equal(a.candidates, b.candidates)
    assert a.candidates.shape == (6, 100, 2)
    assert np.array_equal(a.candidates[:, 0], data.test_inputs)
    assert all(len(set(row[1:, 1])) > 1 and row[0, 1] not in row[1:, 1] for row in a.candidates)


def test_hit_rate_counts_test_items_ranked_in_the_top_ten() -> None:
    data = interactions()
    task = Ranking(data)
    held_out = {tuple(row) for row in data.test_inputs}
    hits_for = {0, 1, 2}  # these users' test items score highest; the others' lowest

    def predict(pairs: np.ndarray) -> np.ndarray:
        good = [tuple(p) in held_out and p[0] in hits_for for p in pairs]
        bad = [tuple(p) in held_out and p[0] not in hits_for for p in pairs]
        return np.where(good, 5.0, np.where(bad, -5.0, 0.0))

    scores = task.evaluate(predict, task.epoch(np.random.default_rng(0)))
    assert scores["val_accuracy"] == pytest.approx(0.5)
    assert 0 < scores["val_loss"] < 1


def test_a_tie_with_a_negative_is_not_a_hit() -> None:
    task = Ranking(interactions())
    scores = task.evaluate(lambda pairs: np.zeros(len(pairs)),
                           task.epoch(np.random.default_rng(0)))
    assert scores["val_accuracy"] == 0.0
