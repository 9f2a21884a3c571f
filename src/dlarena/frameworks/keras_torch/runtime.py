"""Keras on PyTorch: KERAS_BACKEND=torch before Keras is imported; threads as `torch` sets them."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.frameworks._keras.backend import (
    KerasRuntime,
    KerasSteps,
    Step,
    allow_float64_results,
    keras_backend,
    keras_sigmoid_cross_entropy,
    seed_without_tensorflow,
)
from dlarena.frameworks.torch.runtime import TorchRuntime


class KerasTorchRuntime(TorchRuntime, KerasRuntime):
    """PyTorch's runtime (threads, seeds, device, sync), with Keras on top."""

    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        if "keras" in sys.modules:
            raise RuntimeError("Keras was imported before the runtime could set KERAS_BACKEND")
        os.environ["KERAS_BACKEND"] = "torch"
        super().setup(threads=threads, seed=seed, device=device)
        # Keras would pick the first CUDA (or MPS) device itself; the cell's device it is.
        os.environ["KERAS_TORCH_DEVICE"] = str(self.torch_device)
        self._keras = keras_backend("torch")
        seed_without_tensorflow(seed)

    def use_dtype(self, dtype: str) -> None:
        if dtype == "float64":
            allow_float64_results()

    def version(self) -> str:
        return f"{self._keras.__version__} (torch {self._torch.__version__})"

    def scalar(self, value: Any) -> float:
        return float(value.detach().item())

    def place(self, array: np.ndarray) -> Any:
        return self._torch.as_tensor(array, device=self.torch_device)

    def steps(self, model: Any, optimizer: Any, loss: Step, mode: str) -> KerasSteps:
        from dlarena.frameworks.keras_torch.steps import TorchSteps

        return TorchSteps(model, optimizer, loss, mode)

    def sigmoid_cross_entropy(self) -> Step:
        return keras_sigmoid_cross_entropy(self._keras)

    def manifest(self) -> dict[str, Any]:
        return {**super().manifest(),
                "keras_backend": self._keras.backend.backend(),
                "keras_version": str(self._keras.__version__),
                "tensorflow_imported": "tensorflow" in sys.modules}


RUNTIME = KerasTorchRuntime
