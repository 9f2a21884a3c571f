"""TensorFlow runtime glue: threads, seeds, device, synchronisation; Keras on TensorFlow."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable
from dlarena.frameworks.tensorflow.backend import KerasRuntime, KerasSteps, Step


class TensorflowRuntime(KerasRuntime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # Keras 3 follows KERAS_BACKEND; this framework is Keras on TensorFlow, whatever the
        # user's environment or ~/.keras/keras.json says.
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import tensorflow as tf

        # Must run before TensorFlow's first op; later calls raise RuntimeError.
        tf.config.threading.set_intra_op_parallelism_threads(threads.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(threads.inter_op)
        gpus = tf.config.list_physical_devices("GPU")
        # TensorFlow allows TF32 on Ampere+ by default; PyTorch does not. float32 it is.
        tf.config.experimental.enable_tensor_float_32_execution(False)
        if device == "gpu":
            if not gpus:
                raise DeviceUnavailable("the cell asks for a GPU but TensorFlow sees none")
            self._device = "/GPU:0"
        else:
            tf.config.set_visible_devices([], "GPU")
            self._device = "/CPU:0"
        tf.keras.utils.set_random_seed(seed)
        self._tf = tf

    @property
    def tf_device(self) -> str:
        return self._device

    def scope(self) -> contextlib.AbstractContextManager[None]:
        return self._tf.device(self._device)  # type: ignore[no-any-return]

    def place(self, array: np.ndarray) -> Any:
        tf = self._tf
        return tf.identity(tf.constant(array))

    def steps(self, model: Any, optimizer: Any, loss: Step, mode: str) -> KerasSteps:
        from dlarena.frameworks.tensorflow.steps import TensorflowSteps

        return TensorflowSteps(model, optimizer, loss, mode)

    def sigmoid_cross_entropy(self) -> Step:
        tf = self._tf

        def sigmoid(labels: Any, logits: Any) -> Any:
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
                labels=labels, logits=tf.reshape(logits, tf.shape(labels))))
        return sigmoid

    def version(self) -> str:
        return str(self._tf.__version__)

    def device_name(self) -> str:
        return self._device

    def sync(self, value: Any) -> None:
        # Copying the result to the host waits for every op it depends on.
        value.numpy()

    def scalar(self, value: Any) -> float:
        return float(value.numpy())

    def to_numpy(self, value: Any) -> Any:
        return value.numpy()

    def peak_device_memory_bytes(self) -> int | None:
        if self._device == "/CPU:0":
            return None
        return int(self._tf.config.experimental.get_memory_info("GPU:0")["peak"])

    def matrix_product(self, size: int) -> Callable[[], Any]:
        tf = self._tf
        with tf.device(self._device):
            a, b = (tf.random.uniform((size, size)) for _ in range(2))

        def product() -> Any:
            with tf.device(self._device):
                return tf.linalg.matmul(a, b)[0, 0]
        return product

    def manifest(self) -> dict[str, Any]:
        tf = self._tf
        return {
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 CPUs)"),
            "tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
            "deterministic_ops": os.environ.get("TF_DETERMINISTIC_OPS", "0").lower()
            in ("1", "true"),
            "keras_version": str(tf.keras.__version__),
        }


RUNTIME = TensorflowRuntime
