"""PyTorch. Importing this package never imports torch; the worker does, in `runtime`."""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="torch",
    description="PyTorch, eager by default",
    distributions=("torch",),
    pip_requirement="torch",
    modes=("eager", "compile", "compile-max-autotune"),
    eager_mode="eager",
    in_default_set=True,
    # torch.compile's Inductor and Triton caches: a warm cache would hide compile time.
    cache_variables={"TORCHINDUCTOR_CACHE_DIR": "torchinductor", "TRITON_CACHE_DIR": "triton"},
    colour="#ee4c2c",
    unbiased_running_variance=True,
    data_parallel=True,
)
