"""TensorFlow (Keras layers, custom training step): runtime glue and implementation base."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.frameworks.base import DeviceUnavailable, FrameworkInfo, Runtime
from dlarena.workloads.base import Implementation, Weights

INFO = FrameworkInfo(
    name="tensorflow",
    description="TensorFlow 2 with Keras layers; tf.function training step by default",
    distributions=("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"),
    pip_requirement="tensorflow-cpu",
    modes=("function", "eager"),
)


class TensorflowRuntime(Runtime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        # Must run before TensorFlow's first op; later calls raise RuntimeError.
        tf.config.threading.set_intra_op_parallelism_threads(threads.intra_op)
        tf.config.threading.set_inter_op_parallelism_threads(threads.inter_op)
        gpus = tf.config.list_physical_devices("GPU")
        if device == "gpu":
            if not gpus:
                raise DeviceUnavailable("the cell asks for a GPU but TensorFlow sees none")
            # TensorFlow allows TF32 on Ampere+ by default; PyTorch does not. float32 it is.
            tf.config.experimental.enable_tensor_float_32_execution(False)
            self._device = "/GPU:0"
        else:
            tf.config.set_visible_devices([], "GPU")
            self._device = "/CPU:0"
        tf.keras.utils.set_random_seed(seed)
        self._tf = tf

    @property
    def tf_device(self) -> str:
        return self._device

    def version(self) -> str:
        return str(self._tf.__version__)

    def device_name(self) -> str:
        return self._device

    def sync(self, value: Any) -> None:
        # Copying the result to the host waits for every op it depends on.
        value.numpy()

    def peak_device_memory_bytes(self) -> int | None:
        if self._device == "/CPU:0":
            return None
        return int(self._tf.config.experimental.get_memory_info("GPU:0")["peak"])

    def manifest(self) -> dict[str, Any]:
        tf = self._tf
        return {
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 CPUs)"),
            "tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled()),
            "deterministic_ops": os.environ.get("TF_DETERMINISTIC_OPS", "0"),
            "keras_version": str(tf.keras.__version__),
        }


class KerasClassifier(Implementation):
    """Keras layers named after the canonical prefixes, trained with a GradientTape step."""

    runtime: TensorflowRuntime

    @abstractmethod
    def build_model(self) -> Any:
        """A built `keras.Model` whose layer names are the canonical prefixes."""

    def native_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """Canonical inputs -> this implementation's layout (identity unless NHWC images)."""
        return inputs

    def flattened_dense_inputs(self) -> dict[str, tuple[int, int, int]]:
        """Dense layers fed by a flattened (C, H, W) map, whose rows Keras orders (H, W, C)."""
        return {}

    def build(self) -> None:
        import tensorflow as tf

        settings = self.workload.optimizer
        with tf.device(self.runtime.tf_device):
            self.model = self.build_model()
            self.optimizer = tf.keras.optimizers.Adam(
                learning_rate=settings.learning_rate,
                beta_1=settings.beta_1,
                beta_2=settings.beta_2,
                epsilon=settings.epsilon,
            )
            self.optimizer.build(self.model.trainable_variables)
        self.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self._train = self._compile(self._eager_train_step)
        self._infer = self._compile(self._eager_infer_step)

    def _compile(self, step: Callable[..., Any]) -> Callable[..., Any]:
        import tensorflow as tf

        mode = self.cell.mode
        if mode == "function":
            return tf.function(step, jit_compile=False)  # type: ignore[no-any-return]
        if mode == "eager":
            return step
        raise ValueError(f"unknown TensorFlow mode {mode!r}")

    def _eager_train_step(self, inputs: Any, labels: Any) -> Any:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = self.loss_fn(labels, self.model(inputs, training=True))
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    def _eager_infer_step(self, inputs: Any) -> Any:
        return self.model(inputs, training=False)

    def prepare(self, *, training: bool) -> None:
        # Keras takes `training` per call; nothing to switch.
        pass

    def to_device(self, inputs: np.ndarray, labels: np.ndarray) -> Any:
        import tensorflow as tf

        with tf.device(self.runtime.tf_device):
            return (
                tf.identity(tf.constant(self.native_inputs(inputs))),
                tf.identity(tf.constant(labels)),
            )

    def train_step(self, batch: Any) -> Any:
        return self._train(*batch)

    def infer_step(self, batch: Any) -> Any:
        return self._infer(batch[0])

    def trainable_parameter_count(self) -> int:
        return sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)

    def get_weights(self) -> Weights:
        weights: Weights = {}
        for layer in self.model.layers:
            for suffix, variable in _keras_variables(layer).items():
                array = self._to_canonical(layer, suffix, variable.numpy())
                weights[f"{layer.name}.{suffix}"] = np.ascontiguousarray(array)
        return weights

    def set_weights(self, weights: Weights) -> None:
        for layer in self.model.layers:
            for suffix, variable in _keras_variables(layer).items():
                canonical = weights[f"{layer.name}.{suffix}"]
                variable.assign(self._from_canonical(layer, suffix, canonical))

    def _to_canonical(self, layer: Any, suffix: str, array: np.ndarray) -> np.ndarray:
        if suffix != "kernel":
            return array
        if array.ndim == 4:  # HWIO -> OIHW
            return array.transpose(3, 2, 0, 1)
        flattened = self.flattened_dense_inputs().get(layer.name)
        if flattened is not None:
            channels, height, width = flattened
            rows = array.reshape(height, width, channels, -1).transpose(2, 0, 1, 3)
            return rows.reshape(channels * height * width, -1)
        return array

    def _from_canonical(self, layer: Any, suffix: str, array: np.ndarray) -> np.ndarray:
        if suffix != "kernel":
            return array
        if array.ndim == 4:  # OIHW -> HWIO
            return array.transpose(2, 3, 1, 0)
        flattened = self.flattened_dense_inputs().get(layer.name)
        if flattened is not None:
            channels, height, width = flattened
            rows = array.reshape(channels, height, width, -1).transpose(1, 2, 0, 3)
            return rows.reshape(channels * height * width, -1)
        return array


def _keras_variables(layer: Any) -> dict[str, Any]:
    """Canonical suffix -> variable for the layer types we use."""
    import tensorflow as tf

    keras = tf.keras
    if isinstance(layer, keras.layers.Dense | keras.layers.Conv2D):
        variables = {"kernel": layer.kernel}
        if layer.use_bias:
            variables["bias"] = layer.bias
        return variables
    if isinstance(layer, keras.layers.BatchNormalization):
        return {
            "gamma": layer.gamma,
            "beta": layer.beta,
            "moving_mean": layer.moving_mean,
            "moving_variance": layer.moving_variance,
        }
    return {}


RUNTIME = TensorflowRuntime
