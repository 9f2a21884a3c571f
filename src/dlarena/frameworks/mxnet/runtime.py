"""MXNet runtime glue: threads (read from the environment when mxnet loads), seed, sync.

MXNet's engine runs operators asynchronously: `sync` waits for every queued operation.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable, Runtime


class MxnetRuntime(Runtime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        if device != "cpu":
            raise DeviceUnavailable("the mxnet 1.9.1 wheel installed here is CPU-only")
        import mxnet

        mxnet.random.seed(seed)
        self._mx = mxnet
        self.context = mxnet.cpu()

    def version(self) -> str:
        return str(self._mx.__version__)

    def device_name(self) -> str:
        return str(self.context)

    def sync(self, value: Any) -> None:
        self._mx.nd.waitall()

    def scalar(self, value: Any) -> float:
        return float(value.asscalar())

    def to_numpy(self, value: Any) -> Any:
        return value.asnumpy()

    def peak_device_memory_bytes(self) -> int | None:
        return None

    def matrix_product(self, size: int) -> Callable[[], Any]:
        nd = self._mx.nd
        a, b = (nd.random.uniform(shape=(size, size), ctx=self.context) for _ in "ab")
        return lambda: nd.dot(a, b)[0, 0]

    def manifest(self) -> dict[str, Any]:
        features = self._mx.runtime.Features()
        return {
            "intra_op_threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
            "inter_op_threads": int(os.environ.get("MXNET_CPU_WORKER_NTHREADS", "1")),
            "onednn": "on" if features.is_enabled("MKLDNN") else "off",
            "engine": os.environ.get("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice"),
        }


RUNTIME = MxnetRuntime
