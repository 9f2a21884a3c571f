"""Named sets of cells. `default` is what `make run` measures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    workloads: tuple[str, ...]
    frameworks: tuple[str, ...]
    scenarios: tuple[str, ...]
    size: str
    # Worker processes per cell: two give memory figures a confidence interval and show
    # the spread between processes.
    processes: int = 1
    modes: tuple[str, ...] = ("default",)


_ALL = (
    Suite(
        "default", "mlp and cnn, train and infer, PyTorch vs TensorFlow, cpu size",
        workloads=("mlp", "cnn"), frameworks=("torch", "tensorflow"),
        scenarios=("train", "infer"), size="cpu", processes=2,
    ),
    Suite(
        "smoke", "the default suite at smoke size: seconds per cell, for CI",
        workloads=("mlp", "cnn"), frameworks=("torch", "tensorflow"),
        scenarios=("train", "infer"), size="smoke",
    ),
    Suite(
        "graphs", "eager vs compiled: every mode, start-up, train, infer, batch-1 latency",
        workloads=("mlp", "cnn", "lstm"), frameworks=("torch", "tensorflow"),
        scenarios=("startup", "train", "infer", "latency"), size="cpu", modes=("all",),
    ),
)

SUITES: dict[str, Suite] = {suite.name: suite for suite in _ALL}
