"""The interface every implementation fills: one workload written in one framework.

Each `workloads/<workload>/<framework>.py` defines `Implementation`, a subclass of that
framework's model base class (which subclasses this one). The worker drives it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import CodeType
from typing import Any

import numpy as np

from dlarena.cell import CellSpec
from dlarena.contract.runtime import Runtime
from dlarena.contract.workload import OptimizerSettings, SgdSettings, Weights, Workload

# A cell option: train with plain SGD at this learning rate instead of the workload's optimizer.
SGD_OPTION = "sgd_learning_rate"


def check_layout(framework: str, model_names: set[str], canonical_names: set[str]) -> None:
    """Refuse a model whose weights are not exactly the workload's canonical ones."""
    missing, extra = sorted(canonical_names - model_names), sorted(model_names - canonical_names)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"the {framework} model lacks {', '.join(missing)}")
        if extra:
            parts.append(f"the {framework} model has {', '.join(extra)} beyond the layout")
        raise ValueError("not the same model: " + "; ".join(parts))


# Where every framework here adds Adam's epsilon (Keras's own placement is changed to it).
ADAM_EPSILON_ON = "bias-corrected sqrt(v) (PyTorch's placement)"
WEIGHT_INIT = "dlarena canonical weights (glorot-uniform), loaded"


def stated_hyperparameters(
    loss: str, optimizer: str, learning_rate: float, *,
    adam: tuple[float, float, float] | None = None,
    batch_norm: tuple[float, float | None] | None = None,
    layer_norm_epsilon: float | None = None,
) -> dict[str, Any]:
    """The fairness manifest's hyper-parameters under the same keys in every framework, from
    values each reads back from its own optimizer and layers: Adam's (epsilon, beta_1,
    beta_2), BatchNorm's (epsilon, weight of the new statistic), LayerNorm's epsilon."""
    settings: dict[str, Any] = {"optimizer": optimizer, "learning_rate": learning_rate}
    if adam is not None:
        epsilon, beta_1, beta_2 = adam
        settings.update(optimizer_epsilon=epsilon, betas=[beta_1, beta_2],
                        adam_epsilon_on=ADAM_EPSILON_ON)
    if batch_norm is not None:
        settings.update(batchnorm_epsilon=batch_norm[0], batchnorm_new_stat_weight=batch_norm[1])
    if layer_norm_epsilon is not None:
        settings["layernorm_epsilon"] = layer_norm_epsilon
    settings.update(loss=loss, weight_init=WEIGHT_INIT)
    return settings




class Implementation(ABC):
    """One workload written idiomatically in one framework.

    The worker calls `build`, then `to_device` once per batch outside any timed window, then
    `train_step` / `infer_step` inside timed windows. Steps return a framework value that the
    framework's `sync` waits for before a clock is read.
    """

    def __init__(self, workload: Workload, cell: CellSpec, runtime: Runtime) -> None:
        self.workload = workload
        self.cell = cell
        self.runtime = runtime
        self.knobs = workload.knobs(cell.size)

    def optimizer_settings(self) -> OptimizerSettings:
        """The workload's optimizer, unless the cell asks for plain SGD (parity checks do)."""
        sgd = self.cell.options.get(SGD_OPTION)
        return SgdSettings(float(sgd)) if sgd is not None else self.workload.optimizer

    def forward_code(self) -> CodeType | None:
        """The Python function that computes the built model's forward pass, where a user
        would put a breakpoint (the devex scenario's debugger probe stops there); None: not
        declared, so the probe is not run."""
        return None

    @abstractmethod
    def build(self) -> None:
        """Create model and optimizer (weights are loaded afterwards with `set_weights`)."""

    @abstractmethod
    def prepare(self, *, training: bool) -> None:
        """Switch train/eval behaviour (dropout, BatchNorm) before a scenario's steps."""

    @abstractmethod
    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        """Convert one canonical batch to the framework's tensors on the device."""

    @abstractmethod
    def train_step(self, batch: Any) -> Any:
        """One full optimizer step; returns the loss (not yet synchronised)."""

    @abstractmethod
    def infer_step(self, batch: Any) -> Any:
        """One forward pass in inference mode without gradients; returns the outputs."""

    @abstractmethod
    def activations(self, batch: Any) -> Weights:
        """Forward pass in the current mode; output of every layer that owns weights.

        Keyed by the canonical layer prefix, in canonical layout (NCHW for feature maps).
        """

    @abstractmethod
    def gradients(self, batch: Any) -> tuple[float, Weights]:
        """Loss and the gradient of every trainable weight (canonical layout); no update."""

    @abstractmethod
    def compilation_stats(self) -> dict[str, float]:
        """Graphs compiled, graph breaks, retraces: whatever the mode's compiler reports."""

    @abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """Settings read back from the built model and optimizer, for the fairness manifest."""

    @abstractmethod
    def data_layout(self) -> str:
        """How inputs and activations are laid out in memory (recorded in the manifest)."""

    @abstractmethod
    def trainable_parameter_count(self) -> int:
        """Counted by the framework itself, to be checked against the workload's layout."""

    def data_parallel(self) -> None:
        """Wrap the built model for data-parallel training in the group the runtime joined:
        gradients averaged over every process's shard of the global batch. Only a framework
        whose INFO says `data_parallel` overrides it."""
        raise NotImplementedError(f"{self.cell.framework} does not train data-parallel here")

    @abstractmethod
    def get_weights(self) -> Weights:
        """All weights in the canonical layout."""

    @abstractmethod
    def set_weights(self, weights: Weights) -> None:
        """Load weights given in the canonical layout."""
