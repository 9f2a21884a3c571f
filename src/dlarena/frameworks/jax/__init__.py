"""JAX with Flax (Linen) layers and Optax optimizers. Importing this package never imports JAX."""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="jax",
    description="JAX with Flax Linen layers and Optax; jax.jit training step by default",
    distributions=("jax",),
    pip_requirement="jax[cpu] flax optax",
    modes=("jit", "eager"),
    eager_mode="eager",
    in_default_set=True,
    # XLA's C++ start-up lines (JAX's persistent compilation cache, which would hide compile
    # time, is switched off by the runtime rather than pointed at an empty folder).
    quiet_variables={"TF_CPP_MIN_LOG_LEVEL": "2"},
    colour="#2ca02c",
    # jax.distributed with Gloo's CPU collectives; its coordination service binds *:<port>.
    data_parallel=True,
    listens_on_every_interface="JAX's coordination service (gRPC) binds *:<port>",
)
