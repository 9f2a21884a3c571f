"""TensorFlow runtime glue: threads, seeds, device, synchronisation; Keras on TensorFlow."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable
from dlarena.frameworks._keras.backend import KerasRuntime, KerasSteps, Step


class TensorflowRuntime(KerasRuntime):
    @classmethod
    def preload(cls, *, threads: ThreadSettings, device: str) -> bool:
        # The import creates no eager context and no thread pool: the first operation (or
        # the thread settings in `setup`) does, in the forked process.
        cls._before_import()
        import tensorflow  # noqa: F401

        return True

    @staticmethod
    def _before_import() -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # Keras 3 follows KERAS_BACKEND; this framework is Keras on TensorFlow, whatever the
        # user's environment or ~/.keras/keras.json says.
        os.environ["KERAS_BACKEND"] = "tensorflow"

    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        self._before_import()
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
        self._listens_on: str | None = None

    def join_data_parallel(self, *, rank: int, world: int, addresses: Sequence[str],
                           timeout_seconds: float) -> None:
        """MultiWorkerMirroredStrategy over gRPC: rank `rank` serves at `addresses[rank]`.

        The strategy configures TensorFlow's collective runtime, which is possible only
        before the process's first op ("Collective ops must be configured at program
        startup"): hence joining before any model is built. Its constructor waits for every
        worker holding the GIL, and no timeout of its own ended that wait when a peer never
        came (the collective timeout here, the first health check's, the coordination
        service's register timeout were all tried): the scenario bounds the join itself.
        `timeout_seconds` bounds each collective after it. TensorFlow's gRPC server listens
        on every interface whatever host the cluster names (grpc_server_lib binds
        "0.0.0.0:<port>"): the manifest says so.
        """
        tf = self._tf
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec({"worker": list(addresses)}), task_type="worker",
            task_id=rank, rpc_layer="grpc")
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING,
            timeout_seconds=timeout_seconds)
        self._strategy = tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=resolver, communication_options=options)
        self._listens_on = "every interface (TensorFlow's gRPC server binds 0.0.0.0)"

    def data_parallel_scope(self) -> contextlib.AbstractContextManager[None]:
        return self._strategy.scope()  # type: ignore[no-any-return]

    def leave_data_parallel(self) -> None:
        """A last all-reduce as the barrier: no rank exits while another still needs it.
        TensorFlow cannot stop its gRPC server (Unimplemented); it ends with the process."""
        tf = self._tf
        strategy = self._strategy

        @tf.function  # type: ignore[untyped-decorator]
        def barrier() -> Any:
            return strategy.run(lambda: tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, tf.constant(1.0)))

        with tf.device(self._device):
            barrier().numpy()

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

        from keras.src.losses.loss import scale_loss_for_distribution

        def sigmoid(labels: Any, logits: Any) -> Any:
            # Divided by the replicas in sync under a tf.distribute strategy (by 1 outside
            # one), as Keras' own losses are: the data-parallel step relies on it.
            return scale_loss_for_distribution(tf.reduce_mean(
                tf.nn.sigmoid_cross_entropy_with_logits(
                    labels=labels, logits=tf.reshape(logits, tf.shape(labels)))))
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
            **({"data_parallel_listens_on": self._listens_on} if self._listens_on else {}),
        }


RUNTIME = TensorflowRuntime
