"""Chainer runtime glue: Chainer computes with NumPy on the CPU, so every operation has
finished when it returns; its BLAS reads the thread variables the worker was given."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable, Runtime


class ChainerRuntime(Runtime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        if device != "cpu":
            raise DeviceUnavailable("chainer runs on the CPU here (CuPy is not installed)")
        import chainer

        np.random.seed(seed)  # Chainer's initializers and dropout draw from NumPy's generator
        self._chainer = chainer

    def version(self) -> str:
        return str(self._chainer.__version__)

    def device_name(self) -> str:
        return "cpu"

    def sync(self, value: Any) -> None:
        pass  # NumPy: nothing is queued

    def scalar(self, value: Any) -> float:
        return float(value.array)

    def to_numpy(self, value: Any) -> Any:
        return np.asarray(value.array)

    def peak_device_memory_bytes(self) -> int | None:
        return None

    def matrix_product(self, size: int) -> Callable[[], Any]:
        functions = self._chainer.functions
        a, b = (np.random.default_rng(0).random((size, size), dtype=np.float32) for _ in "ab")
        return lambda: functions.matmul(a, b).array[0, 0]

    def manifest(self) -> dict[str, Any]:
        return {"intra_op_threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
                "inter_op_threads": 1,
                "ideep": "on" if self._chainer.backends.intel64.is_ideep_available() else "off"}


RUNTIME = ChainerRuntime
