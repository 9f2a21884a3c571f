"""JAX runtime glue: float64, threads (CPU affinity: `threads.py`), device, compile counting,
synchronisation."""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from dlarena.cell import ThreadSettings
from dlarena.contract import DeviceUnavailable, Runtime
from dlarena.frameworks.jax import threads as xla_threads

# Durations JAX reports for each compilation (jax._src.dispatch): tracing to a jaxpr,
# lowering to MLIR, and XLA's compile. One backend compile is one compiled program.
_TRACE_EVENT = "/jax/core/compile/jaxpr_trace_duration"
_LOWER_EVENT = "/jax/core/compile/jaxpr_to_mlir_module_duration"
_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class Stepped(NamedTuple):
    """A training step's result: the loss and the whole new train state (a pytree).

    `sync` blocks on both, so a timed window ends when the parameters, optimizer state and
    BatchNorm statistics are written, not merely when the loss is known.
    """

    loss: Any
    state: Any


class CompileLog:
    """Counts compiled programs and adds up the time spent tracing, lowering and compiling."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.programs = 0
        self.seconds = 0.0

    def record(self, event: str, duration_secs: float, **_: str | int) -> None:
        if event not in (_TRACE_EVENT, _LOWER_EVENT, _COMPILE_EVENT):
            return
        with self._lock:
            self.seconds += duration_secs
            if event == _COMPILE_EVENT:
                self.programs += 1


class JaxRuntime(Runtime):
    @classmethod
    def preload(cls, *, threads: ThreadSettings, device: str) -> bool:
        # Importing JAX starts no XLA client (the first array or device query does); the
        # CPU affinity set here is inherited by the forked process, which sets it again.
        cls._before_import(threads, device)
        import jax  # noqa: F401

        return True

    @staticmethod
    def _before_import(threads: ThreadSettings, device: str) -> None:
        # All of this must happen before JAX is imported and before any array exists.
        xla_threads.limit(threads)
        if device == "cpu":
            os.environ["JAX_PLATFORMS"] = "cpu"  # no probing for CUDA or TPU plug-ins

    def setup(self, *, threads: ThreadSettings, seed: int, device: str) -> None:
        self._before_import(threads, device)
        import jax as jax_module

        jax: Any = jax_module  # partly untyped (config.update, block_until_ready)
        # The same-model check computes in float64; float32 cells keep float32 explicitly
        # (weights, inputs, losses), which the precision audit and a test of the step's
        # jaxpr confirm. Enabled in every worker, so the audited path is the timed one.
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_enable_compilation_cache", False)  # start-up compiles all
        jax.config.update("jax_default_matmul_precision", "highest")  # float32 means float32
        self.compiles = CompileLog()
        jax.monitoring.register_event_duration_secs_listener(self.compiles.record)
        self._device: Any = None
        if device == "gpu":
            try:
                self._device = jax.devices("gpu")[0]
            except RuntimeError as error:
                raise DeviceUnavailable(f"the cell asks for a GPU but JAX sees none ({error})") \
                    from error
        # On the CPU the device is found when first needed: finding it starts XLA's client,
        # after which `jax.distributed.initialize` (a data-parallel cell's join) is refused.
        self._listens_on: str | None = None
        self._jax = jax
        self.seed = seed  # nothing random is drawn: every weight is loaded

    @property
    def jax_device(self) -> Any:
        """This process's device (of a data-parallel group's, the local one)."""
        if self._device is None:
            self._device = self._jax.local_devices(backend="cpu")[0]
        return self._device

    def join_data_parallel(self, *, rank: int, world: int, addresses: Sequence[str],
                           timeout_seconds: float) -> None:
        """`jax.distributed` with Gloo's CPU collectives: rank 0's coordination service at
        the first address; afterwards `jax.devices()` holds every rank's CPU device and a
        program over a mesh of them all-reduces where its data meet (the model's
        `data_parallel`). The coordination service (gRPC) listens on every interface
        (`*:<port>`, seen with `ss -ltnp`) whatever address it is given."""
        jax = self._jax
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=addresses[0], num_processes=world,
                                   process_id=rank,
                                   initialization_timeout=max(1, math.ceil(timeout_seconds)))
        self._listens_on = "every interface (JAX's coordination service binds *:<port>)"

    def leave_data_parallel(self) -> None:
        self._jax.distributed.shutdown()

    def version(self) -> str:
        return str(self._jax.__version__)

    def device_name(self) -> str:
        return f"{self.jax_device.platform}:{self.jax_device.id}"

    def sync(self, value: Any) -> None:
        self._jax.block_until_ready(value)

    def scalar(self, value: Any) -> float:
        return float(value.loss if isinstance(value, Stepped) else value)

    def to_numpy(self, value: Any) -> Any:
        import numpy as np

        return np.asarray(value)

    def peak_device_memory_bytes(self) -> int | None:
        if self.jax_device.platform == "cpu":
            return None
        stats = self.jax_device.memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return None if peak is None else int(peak)

    def matrix_product(self, size: int) -> Callable[[], Any]:
        jax = self._jax
        keys = jax.random.split(jax.random.key(0))
        a, b = (jax.device_put(jax.random.uniform(key, (size, size), "float32"), self.jax_device)
                for key in keys)
        product = jax.jit(lambda x, y: (x @ y)[0, 0])
        return lambda: product(a, b)

    def manifest(self) -> dict[str, Any]:
        import flax
        import optax

        jax = self._jax
        return {
            **xla_threads.manifest(),
            "x64_enabled": bool(jax.config.jax_enable_x64),
            "matmul_precision": str(jax.config.jax_default_matmul_precision),
            "persistent_compilation_cache": bool(jax.config.jax_enable_compilation_cache),
            **({"data_parallel_listens_on": self._listens_on} if self._listens_on else {}),
            "tf32": str(jax.config.jax_default_matmul_precision) not in ("highest", "float32"),
            "flax_version": str(flax.__version__),
            "optax_version": str(optax.__version__),
        }


RUNTIME = JaxRuntime
