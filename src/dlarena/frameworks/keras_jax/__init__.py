"""Keras 3 on JAX: the Keras models (`workloads/<w>/keras.py`), run by KERAS_BACKEND=jax.

Importing this package imports neither Keras nor JAX.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="keras-jax",
    description="Keras 3 on the JAX backend; a stateless step in jax.jit (XLA) by default",
    distributions=("keras",),
    requires=("jax",),
    pip_requirement="keras jax",
    # jit_compile: what `model.compile(jit_compile=True)` (Keras' default on JAX) does.
    modes=("jit_compile", "eager"),
    eager_mode="eager",
    implementation_files="keras",  # workloads/<w>/keras.py, as tensorflow
    implementations_of="tensorflow",
    runs_on="jax",
    quiet_variables={"TF_CPP_MIN_LOG_LEVEL": "2"},
    colour="#2ca02c",
)
