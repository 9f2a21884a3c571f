"""Keras on JAX: KERAS_BACKEND=jax before Keras is imported, XLA's CPU threads limited and
read back as JAX's are (`frameworks/jax/threads.py`), seeds."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable
from dlarena.frameworks._keras.backend import (
    KerasRuntime,
    KerasSteps,
    Step,
    allow_float64_results,
    keras_backend,
    keras_sigmoid_cross_entropy,
    seed_without_tensorflow,
)
from dlarena.frameworks.jax import threads as xla_threads
from dlarena.frameworks.keras_jax.steps import JaxSteps, StepOutput


class KerasJaxRuntime(KerasRuntime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        if "keras" in sys.modules or "jax" in sys.modules:
            raise RuntimeError("Keras or JAX was imported before the runtime could set "
                               "KERAS_BACKEND and XLA's threads")
        os.environ["KERAS_BACKEND"] = "jax"
        xla_threads.limit(threads)
        if device != "gpu":
            os.environ["JAX_PLATFORMS"] = "cpu"
        import jax

        # float32 means float32: on a GPU, JAX's default matmul and convolution precision is
        # TF32 (PyTorch's and TensorFlow's runtimes turn theirs off too).
        config: Any = jax.config  # partly untyped (update)
        config.update("jax_default_matmul_precision", "highest")
        keras = keras_backend("jax")
        if device == "gpu" and jax.default_backend() != "gpu":
            raise DeviceUnavailable("the cell asks for a GPU but JAX sees none")
        seed_without_tensorflow(seed)
        self._jax: Any = jax
        self._keras = keras

    def use_dtype(self, dtype: str) -> None:
        # JAX computes float64 only when told so; arrays made before keep their 32 bits, so
        # this is set before the float64 model (the same-model check's) is built.
        if dtype == "float64":
            self._jax.config.update("jax_enable_x64", True)
            allow_float64_results()
            _float64_attention(self._jax)

    def version(self) -> str:
        return f"{self._keras.__version__} (jax {self._jax.__version__})"

    def device_name(self) -> str:
        return str(self._jax.devices()[0])

    def sync(self, value: Any) -> None:
        self._jax.block_until_ready(value)

    def scalar(self, value: Any) -> float:
        loss = value.loss if isinstance(value, StepOutput) else value
        return float(np.asarray(loss))

    def to_numpy(self, value: Any) -> Any:
        return np.asarray(value)

    def peak_device_memory_bytes(self) -> int | None:
        device = self._jax.devices()[0]
        if device.platform == "cpu":
            return None
        stats = device.memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return None if peak is None else int(peak)

    def matrix_product(self, size: int) -> Callable[[], Any]:
        jax = self._jax
        a, b = (jax.random.uniform(jax.random.key(i), (size, size)) for i in range(2))
        product = jax.jit(lambda a, b: (a @ b)[0, 0])
        return lambda: product(a, b)

    def place(self, array: np.ndarray) -> Any:
        return self._jax.device_put(array)

    def steps(self, model: Any, optimizer: Any, loss: Step, mode: str) -> KerasSteps:
        return JaxSteps(model, optimizer, loss, mode)

    def sigmoid_cross_entropy(self) -> Step:
        return keras_sigmoid_cross_entropy(self._keras)

    def manifest(self) -> dict[str, Any]:
        jax = self._jax
        return {
            **xla_threads.manifest(),
            "keras_backend": self._keras.backend.backend(),
            "keras_version": str(self._keras.__version__),
            "jax_version": str(jax.__version__),
            "x64": bool(jax.config.jax_enable_x64),
            "matmul_precision": str(jax.config.jax_default_matmul_precision),
            "tf32": str(jax.config.jax_default_matmul_precision) not in ("highest", "float32"),
            "tensorflow_imported": "tensorflow" in sys.modules,
        }


def _float64_attention(jax: Any) -> None:
    """`jax.nn.dot_product_attention`, which Keras' MultiHeadAttention calls on JAX, computes
    its softmax in float32 whatever the input (`padded_logits.astype(float32)`): float64
    attention then agrees with float64 only to 8e-8. For float64 inputs (the same-model
    check's models) it is replaced by the same function written out in the inputs' dtype;
    every other dtype, the timed float32 path included, still calls JAX's own."""
    original = jax.nn.dot_product_attention
    if getattr(original, "dlarena_float64", False):
        return
    numpy = jax.numpy

    def attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None, *,
                  scale: float | None = None, is_causal: bool = False, **options: Any) -> Any:
        if query.dtype != numpy.float64:
            return original(query, key, value, bias, mask, scale=scale, is_causal=is_causal,
                            **options)
        if bias is not None or mask is not None or is_causal:
            raise NotImplementedError("float64 attention with a bias or mask")
        if scale is None:
            scale = 1.0 / float(numpy.sqrt(query.shape[-1]))
        logits = numpy.einsum("btnh,bsnh->bnts", query, key) * scale
        probabilities = jax.nn.softmax(logits, axis=-1)
        return numpy.einsum("bnts,bsnh->btnh", probabilities, value)

    attention.dlarena_float64 = True  # type: ignore[attr-defined]
    jax.nn.dot_product_attention = attention


RUNTIME = KerasJaxRuntime
