"""The fake framework's runtime: counts synchronisations, so tests can check the clock waits."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.contract import Runtime
from dlarena.frameworks.fake.model import FAULT_VARIABLE


class FakeRuntime(Runtime):
    @classmethod
    def preload(cls, *, threads: ThreadSettings, device: str) -> bool:
        """Nothing to import (NumPy is); the preload faults of `model.inject_fault`."""
        fault = os.environ.get(FAULT_VARIABLE, "")
        if fault == "preload-exit":
            os._exit(3)
        return fault != "preload-refused"

    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        self._device = device
        self.synced = 0

    def version(self) -> str:
        return str(np.__version__)

    def device_name(self) -> str:
        return f"fake-{self._device}"

    def sync(self, value: Any) -> None:
        self.synced += 1

    def scalar(self, value: Any) -> float:
        return float(value)

    def to_numpy(self, value: Any) -> Any:
        return np.asarray(value)

    def peak_device_memory_bytes(self) -> int | None:
        return 0 if self._device == "gpu" else None

    def matrix_product(self, size: int) -> Callable[[], Any]:
        a = np.ones((size, size), np.float32)
        return lambda: (a @ a)[0, 0]

    def manifest(self) -> dict[str, Any]:
        return {"synchronised_reads": self.synced}


RUNTIME = FakeRuntime
