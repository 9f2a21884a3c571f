"""TensorFlow (Keras layers, custom training step): runtime glue and implementation base."""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.frameworks.base import DeviceUnavailable, FrameworkInfo, Runtime
from dlarena.workloads.base import Implementation, SgdSettings, Weights, check_layout

INFO = FrameworkInfo(
    name="tensorflow",
    description="TensorFlow 2 with Keras layers; tf.function training step by default",
    distributions=("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"),
    pip_requirement="tensorflow-cpu",
    modes=("function", "eager", "xla"),
)


class TensorflowRuntime(Runtime):
    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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

        settings = self.optimizer_settings()
        with tf.device(self.runtime.tf_device):
            self.model = self.build_model()
            if isinstance(settings, SgdSettings):
                self.optimizer = tf.keras.optimizers.SGD(learning_rate=settings.learning_rate)
            else:
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
        if mode in ("function", "xla"):
            return tf.function(step, jit_compile=mode == "xla")  # type: ignore[no-any-return]
        if mode == "eager":
            return step
        raise ValueError(f"unknown TensorFlow mode {mode!r}")

    def compilation_stats(self) -> dict[str, float]:
        if self.cell.mode == "eager":
            return {}
        # One trace per input signature is expected; more means retracing.
        functions: list[Any] = [self._train, self._infer]
        return {"traces": float(sum(f.experimental_get_tracing_count() for f in functions))}

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
        # Keras takes `training` per call; `activations` reads it from here.
        self._training = training

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

    def activations(self, batch: Any) -> Weights:
        outputs: Weights = {}
        hidden = batch[0]
        training = self._training
        for layer in self.model.layers:
            hidden = layer(hidden, training=training)
            if _keras_variables(layer):
                array = hidden.numpy()
                if array.ndim == 4:  # NHWC -> canonical NCHW
                    array = array.transpose(0, 3, 1, 2)
                outputs[layer.name] = np.ascontiguousarray(array)
        return outputs

    def gradients(self, batch: Any) -> tuple[float, Weights]:
        import tensorflow as tf

        inputs, labels = batch
        with tf.GradientTape() as tape:
            loss = self.loss_fn(labels, self.model(inputs, training=True))
        variables = self.model.trainable_variables
        by_variable = dict(zip(map(id, variables), tape.gradient(loss, variables), strict=True))
        # Embedding gradients come as IndexedSlices; made dense here, outside any timing.
        gradients = {
            name: np.ascontiguousarray(self._to_canonical(
                layer, suffix, tf.convert_to_tensor(by_variable[id(variable)]).numpy()))
            for name, (layer, suffix, variable) in self._named_variables().items()
            if id(variable) in by_variable
        }
        return float(loss), gradients

    def hyperparameters(self) -> dict[str, Any]:
        import tensorflow as tf

        optimizer = self.optimizer
        settings: dict[str, Any] = {
            "optimizer": type(optimizer).__name__,
            # Keras keeps it in a float32 variable: 7 significant digits are all there is.
            "learning_rate": float(f"{float(np.asarray(optimizer.learning_rate)):.7g}"),
        }
        if isinstance(optimizer, tf.keras.optimizers.Adam):
            settings.update(optimizer_epsilon=optimizer.epsilon,
                            betas=[optimizer.beta_1, optimizer.beta_2])
        norms = [layer for layer in self.model.layers
                 if isinstance(layer, tf.keras.layers.BatchNormalization)]
        if norms:
            settings["batchnorm_epsilon"] = norms[0].epsilon
            # Keras keeps `momentum` of the old statistic; this is the new statistic's weight.
            settings["batchnorm_new_stat_weight"] = round(1.0 - norms[0].momentum, 10)
        settings["weight_init"] = "dlarena canonical weights (glorot-uniform), loaded"
        return settings

    def trainable_parameter_count(self) -> int:
        return sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)

    def _named_variables(self) -> dict[str, tuple[Any, str, Any]]:
        """Canonical name -> (layer, suffix, variable)."""
        return {
            f"{layer.name}.{suffix}": (layer, suffix, variable)
            for layer in self.model.layers
            for suffix, variable in _keras_variables(layer).items()
        }

    def get_weights(self) -> Weights:
        return {
            name: np.ascontiguousarray(self._to_canonical(layer, suffix, variable.numpy()))
            for name, (layer, suffix, variable) in self._named_variables().items()
        }

    def set_weights(self, weights: Weights) -> None:
        variables = self._named_variables()
        check_layout("tensorflow", set(variables), set(weights))
        for name, (layer, suffix, variable) in variables.items():
            variable.assign(self._from_canonical(layer, suffix, weights[name]))

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
    if isinstance(layer, keras.layers.LSTM):
        cell = layer.cell
        return {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel,
                "bias": cell.bias}
    if isinstance(layer, keras.layers.Embedding):
        return {"embeddings": layer.embeddings}
    if isinstance(layer, keras.layers.BatchNormalization):
        return {
            "gamma": layer.gamma,
            "beta": layer.beta,
            "moving_mean": layer.moving_mean,
            "moving_variance": layer.moving_variance,
        }
    return {}


RUNTIME = TensorflowRuntime
