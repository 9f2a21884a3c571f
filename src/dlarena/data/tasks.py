"""What a convergence run trains on and how it is scored (NumPy only, run in the worker).

A task turns a real data set into one epoch of (inputs, labels) at a time, in an order set by
the cell's seed so every framework sees the same batches, and scores the model through a
`predict` function (inputs -> logits) with the same NumPy code for every framework.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from dlarena.data.catalogue import Dataset

Predict = Callable[[np.ndarray], np.ndarray]
# Training accuracy is measured on this many samples of the epoch just trained.
TRAIN_EVAL_SAMPLES = 10_000


class Task(ABC):
    @abstractmethod
    def epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's inputs and labels, in training order."""

    @abstractmethod
    def evaluate(self, predict: Predict, trained: tuple[np.ndarray, np.ndarray]
                 ) -> dict[str, float]:
        """train_accuracy (on `trained`, the epoch's data), val_loss and val_accuracy."""


def softmax_scores(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean softmax cross-entropy (nats) and accuracy, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -float(log_probabilities[np.arange(len(labels)), labels].mean())
    return loss, float((logits.argmax(axis=1) == labels).mean())


def sigmoid_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of logits, in the numerically stable form."""
    z = np.asarray(logits, dtype=np.float64)
    return float(np.mean(np.maximum(z, 0) - z * labels + np.log1p(np.exp(-np.abs(z)))))


class Classification(Task):
    """Images with class labels: each epoch is a permutation of the training set."""

    def __init__(self, train: tuple[np.ndarray, np.ndarray],
                 test: tuple[np.ndarray, np.ndarray]) -> None:
        self.train, self.test = train, test

    def epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(self.train[1]))
        return self.train[0][order], self.train[1][order]

    def evaluate(self, predict: Predict, trained: tuple[np.ndarray, np.ndarray]
                 ) -> dict[str, float]:
        inputs, labels = (array[:TRAIN_EVAL_SAMPLES] for array in trained)
        _, train_accuracy = softmax_scores(predict(inputs), labels)
        val_loss, val_accuracy = softmax_scores(predict(self.test[0]), self.test[1])
        return {"train_accuracy": train_accuracy, "val_loss": val_loss,
                "val_accuracy": val_accuracy}


class Ranking(Task):
    """Implicit feedback, NCF protocol (He et al. 2017): leave-one-out, hit rate@10.

    Each epoch pairs every observed (user, item) with `negatives` items the user never
    interacted with, drawn afresh from the epoch's generator. Evaluation ranks each user's
    held-out item among 99 unseen items drawn once with a fixed seed, so every framework and
    every seed is scored on the same candidates; a hit is the held-out item ranking in the
    top 10 (ties count against it).
    """

    CANDIDATES = 99
    TOP = 10
    EVALUATION_SEED = 20170403  # the NCF paper's arXiv date: any fixed number will do

    def __init__(self, data: Dataset, *, negatives: int = 4) -> None:
        self.users, self.items, self.negatives = data.users, data.items, negatives
        self.positives = data.train_inputs.astype(np.int64)
        seen = np.concatenate([self.positives, data.test_inputs.astype(np.int64)])
        self._seen = np.unique(seen[:, 0] * self.items + seen[:, 1])
        rng = np.random.default_rng(self.EVALUATION_SEED)
        test_users = data.test_inputs[:, 0].astype(np.int64)
        unseen = self._unseen_items(rng, np.repeat(test_users, self.CANDIDATES))
        candidates = np.concatenate(
            [data.test_inputs[:, 1:2], unseen.reshape(-1, self.CANDIDATES)], axis=1)
        self.candidates = np.stack(
            [np.repeat(test_users[:, None], self.CANDIDATES + 1, axis=1), candidates], axis=2)

    def _unseen_items(self, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
        """One item per user that the user never interacted with, uniformly drawn."""
        items = rng.integers(0, self.items, size=len(users))
        while True:
            clash = np.isin(users * self.items + items, self._seen)
            if not clash.any():
                return items
            items[clash] = rng.integers(0, self.items, size=int(clash.sum()))

    def epoch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        users = np.repeat(self.positives[:, 0], self.negatives)
        negatives = np.stack([users, self._unseen_items(rng, users)], axis=1)
        inputs = np.concatenate([self.positives, negatives])
        labels = np.concatenate([np.ones(len(self.positives), np.float32),
                                 np.zeros(len(negatives), np.float32)])
        order = rng.permutation(len(labels))
        return np.ascontiguousarray(inputs[order]), labels[order]

    def evaluate(self, predict: Predict, trained: tuple[np.ndarray, np.ndarray]
                 ) -> dict[str, float]:
        inputs, labels = (array[:TRAIN_EVAL_SAMPLES] for array in trained)
        train_logits = predict(inputs).reshape(-1)
        width = self.CANDIDATES + 1
        scores = predict(self.candidates.reshape(-1, 2)).reshape(-1, width).astype(np.float64)
        rank = (scores[:, 1:] >= scores[:, :1]).sum(axis=1)  # items scored at least as high
        truth = np.zeros_like(scores)
        truth[:, 0] = 1.0
        return {"train_accuracy": float(((train_logits > 0) == (labels > 0.5)).mean()),
                "val_loss": sigmoid_loss(scores, truth),
                "val_accuracy": float((rank < self.TOP).mean())}
