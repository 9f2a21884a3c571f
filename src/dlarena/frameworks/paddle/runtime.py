"""PaddlePaddle runtime glue: threads, seed, device (CPU: every operation has finished when
it returns)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable, Runtime


class PaddleRuntime(Runtime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        import paddle

        if device != "cpu":
            if not paddle.device.is_compiled_with_cuda():
                raise DeviceUnavailable("the paddlepaddle wheel installed here is CPU-only")
            paddle.set_device("gpu:0")
        else:
            paddle.set_device("cpu")
        paddle.seed(seed)
        self._paddle = paddle

    def version(self) -> str:
        return str(self._paddle.__version__)

    def device_name(self) -> str:
        return str(self._paddle.device.get_device())

    def sync(self, value: Any) -> None:
        if self._paddle.device.get_device().startswith("gpu"):
            self._paddle.device.synchronize()

    def scalar(self, value: Any) -> float:
        return float(value.item())

    def to_numpy(self, value: Any) -> Any:
        return value.numpy()

    def peak_device_memory_bytes(self) -> int | None:
        if not self._paddle.device.get_device().startswith("gpu"):
            return None
        return int(self._paddle.device.cuda.max_memory_allocated())

    def matrix_product(self, size: int) -> Callable[[], Any]:
        paddle = self._paddle
        a, b = (paddle.rand([size, size], dtype="float32") for _ in "ab")
        return lambda: paddle.matmul(a, b)[0, 0]

    def manifest(self) -> dict[str, Any]:
        core = getattr(getattr(self._paddle, "base", None), "core", None)
        onednn = getattr(core, "is_compiled_with_mkldnn", None)
        return {"intra_op_threads": int(os.environ.get("OMP_NUM_THREADS", "0")) or None,
                "inter_op_threads": 1,
                "onednn": "unknown" if onednn is None else "on" if onednn() else "off",
                # Paddle's eager convolutions are im2col + MKL SGEMM, and its MKL picks kernels
                # by CPU vendor: generic ones on AMD unless told (docs/old-frameworks.md).
                "mkl_code_path": (f"MKL_DEBUG_CPU_TYPE={os.environ['MKL_DEBUG_CPU_TYPE']}"
                                  if os.environ.get("MKL_DEBUG_CPU_TYPE")
                                  else "MKL's own choice by CPU vendor")}


RUNTIME = PaddleRuntime
